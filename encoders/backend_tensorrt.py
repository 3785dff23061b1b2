"""A native TensorRT engine (``.plan`` from ``biosig compile``) as a :class:`Backend`; needs a CUDA
GPU and the tensorrt package (the ``gpu`` extra), both imported only when an engine is opened."""
from __future__ import annotations

import pathlib

import numpy as np

from encoders.backend_base import Backend
from encoders.compile import import_tensorrt
from encoders.errors import EncoderError


class TensorRTBackend(Backend):
    """Native TensorRT engine (``.plan``) run through the TensorRT 10 tensor-address API."""

    name = "tensorrt"

    def __init__(self, plan_path, *, device=None, why="asked for tensorrt"):
        trt = import_tensorrt()
        import torch
        if not torch.cuda.is_available():
            raise EncoderError("tensorrt backend needs a CUDA GPU; none is visible")
        self.device = torch.device(device or "cuda")
        self.path = pathlib.Path(plan_path)
        if not self.path.is_file():
            raise EncoderError(f"tensorrt backend: engine {self.path} does not exist; build one with biosig compile")
        self._logger = trt.Logger(trt.Logger.WARNING)
        self.engine = trt.Runtime(self._logger).deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise EncoderError(f"{self.path}: not a TensorRT engine for this TensorRT version/GPU; rebuild it")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.input_name = "x" if "x" in inputs else inputs[0]
        self.channel_input = "channel_idx" if "channel_idx" in inputs else None
        self.output_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        shape = tuple(self.engine.get_tensor_shape(self.input_name))
        self.in_channels = shape[1] if len(shape) == 3 and shape[1] > 0 else None
        self.providers = (f"TensorRT {trt.__version__}", str(self.device))
        self.why = why

    def _run(self, x, channel_idx):
        import torch
        if x.shape[0] == 0:
            return np.zeros((0, int(self.engine.get_tensor_shape(self.output_name)[-1])), np.float32)
        x_dev = torch.from_numpy(x).to(self.device)
        if not self.context.set_input_shape(self.input_name, tuple(x.shape)):
            raise EncoderError(f"input shape {x.shape} is outside the engine's optimisation profile; "
                               "rebuild with wider --min/--max-batch or length")
        if self.channel_input:
            chan_dev = torch.from_numpy(channel_idx).to(self.device)
            self.context.set_input_shape(self.channel_input, tuple(channel_idx.shape))
            self.context.set_tensor_address(self.channel_input, chan_dev.data_ptr())
        out = torch.empty(tuple(self.context.get_tensor_shape(self.output_name)), dtype=torch.float32,
                          device=self.device)
        self.context.set_tensor_address(self.input_name, x_dev.data_ptr())
        self.context.set_tensor_address(self.output_name, out.data_ptr())
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise EncoderError("TensorRT execution failed (see the TensorRT log above)")
        stream.synchronize()
        return out.cpu().numpy()
