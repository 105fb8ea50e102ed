"""The CUDA code paths on a simulated CUDA device, so that CI without a GPU runs them.

The tests that need a real GPU (``requires_cuda``) skip wherever CI runs. Here
the library runs its ``device="cuda:1"`` paths for real on a CPU-only torch,
and every tensor operation is checked for the device it runs on.

How the device is simulated
---------------------------
:class:`SimulatedCudaTensor` is a wrapper tensor subclass
(``torch.Tensor._make_wrapper_subclass``) that torch itself sees as a tensor
of a CUDA device, without storage; it holds an ordinary CPU tensor with its
data. :class:`SimulatedCuda`, a ``TorchDispatchMode``, receives every aten
operation while it is active, factory functions included:

* a factory function given a CUDA device (``torch.empty``, ``torch.as_tensor``,
  ``.to("cuda:1")``, and those that torch's composite operations call with
  ``self.options()``) runs on the CPU and its result is wrapped as a tensor of
  that device; ``"cuda"`` without an index means the *current* device,
  ``cuda:0``;
* an operation on wrapped tensors runs on their CPU data, and its results are
  wrapped again, on the same device;
* an operation that mixes devices raises :class:`DeviceMismatch` (a
  RuntimeError, as torch's "Expected all tensors to be on the same device"):
  ``cuda:0`` with ``cuda:1``, or a CUDA tensor with a CPU tensor of one
  dimension or more (0-d CPU tensors pass, as they do on CUDA); every
  mismatch is also recorded, so that one the library catches still fails;
* ``.cpu()``, ``.to("cpu")`` and copies into CPU tensors are the only ways
  back; ``.numpy()`` of a device tensor raises, as it does on CUDA;
* work on CPU tensors is recorded by the line of the library that did it, and
  fails the test unless :data:`HOST_WORK` lists that line with its reason; work
  on another CUDA device than the requested one fails too;
* matrix products on the device are recorded where ``torch.backends.cuda.matmul``
  allows TF32 or reduced-precision 16-bit reductions at the time (the
  library's own numerics context switches both off);
* host syncs are counted by library function: ``.item()``, ``float()``,
  ``bool()`` of a device tensor (``aten._local_scalar_dense``), device-to-host
  copies, ``torch.equal``, ``nonzero``, boolean masks and the other operations
  whose output size depends on the data.

A CPU build of torch has no CUDA runtime, and a few of torch's entry points
ask it for something before the dispatcher is reached: the Python bindings of
``item``/``float``/``bool``, indexing, ``copy_``, ``contiguous`` and
``new_tensor`` guard the tensor's device (overridden on the subclass, through
the dispatcher), ``torch.tensor`` of Python data skips the Python dispatch,
``torch.sparse_csr_tensor`` guards its device, and ``Tensor.to("cuda")`` asks
for the current device (these three handled by a ``TorchFunctionMode``).
``torch.cuda.is_available``, ``device_count``, ``current_device``,
``get_device_capability`` and the lazy CUDA initialisation are patched for
the duration of a test, with two devices.

Limits: what a real GPU still checks that this does not
--------------------------------------------------------
* The numbers are the CPU kernels' numbers: CUDA's own kernels, their
  rounding, 16-bit products on tensor cores and TF32 are not run (only the
  flags that would allow them are checked), and
  ``get_device_capability`` is patched (bf16 is always allowed).
* Time and memory: asynchronous execution, streams, what a sync costs (here
  they are only counted), out-of-memory errors and the chunk sizes' effect.
* Autograd: even its bookkeeping needs the CUDA runtime, which a CPU build
  aborts on, so these tensors never require grad (``requires_grad_`` is a
  no-op). The library's training and its attack on its own network compute
  gradients in closed form under ``torch.no_grad``; the attack's autograd path
  for other modules is not simulated.
* torch's choices by tensor type: Adam's default ``foreach`` implementation is
  picked only for plain CUDA tensors, so the single-tensor one runs here.
* Pickling a GPU model and loading it without one, ``torch.cuda`` calls that
  are not patched here, and kernels that would run on the current device
  instead of their tensors' (a C++ matter that the Python dispatch does not
  see).
* Stricter than CUDA in one place: indexing a device tensor with a CPU index
  tensor, which CUDA accepts with a copy, is reported as a mismatch.
"""

import os
import sys
from collections import Counter
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.datasets import load_iris, make_blobs
from sklearn.preprocessing import StandardScaler
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode, _pop_mode_temporarily
from torch.utils._pytree import tree_flatten, tree_map

import sklearn_pertlearn
from sklearn_pertlearn import (
    AdversarialPerturbationTransformer,
    PerturbationLearningClassifier,
    WideTwoLayerNetClassifier,
    _kernel,
    _network,
    _skorch,
    theory,
)
from sklearn_pertlearn._network import TwoLayerNetwork
from sklearn_pertlearn.perturbation import targeted_perturbation
from sklearn_pertlearn.theory import LazyRegimeClassifier, hat_f, hat_g, phi_kernel

# The fits here are a few epochs on a few points: whether they learn is not the question.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

aten = torch.ops.aten
_LIBRARY = os.path.dirname(sklearn_pertlearn.__file__)
#: The device the estimators are asked for: not the current one (cuda:0).
DEVICE = torch.device("cuda", 1)

#: Work on CPU tensors that the library does on purpose, by (file, function, op).
HOST_WORK = {
    # The initial weights are drawn on the CPU from a private generator (a
    # pure function of the seed, whatever the device); skorch moves them.
    **{("_network.py", function, op): "the initial weights, seeded on the CPU"
       for function, op in [
           ("TwoLayerNetwork.__init__.<locals>.<genexpr>", "aten.randn.generator"),
           ("TwoLayerNetwork.__init__", "aten.div.Tensor"),
           ("TwoLayerNetwork.__init__", "aten._to_copy.default"),
           ("TwoLayerNetwork.__init__", "aten.select.int"),
       ]},
    # The mini-batch order comes from a CPU generator, then goes to the device.
    ("_skorch.py", "TensorBatches.__iter__", "aten.randperm.generator"): "seeded on the CPU",
    # Validation of the numpy input: a finite sum proves every entry finite.
    ("_validation.py", "check_float_array", "aten.sum.default"): "checks the numpy input",
    # Probabilities from the decision values, once they are a numpy array.
    **{("classifier.py", "WideTwoLayerNetClassifier._probabilities", op): "on the numpy result"
       for op in ["aten.sigmoid.default", "aten.neg.default", "aten.stack.default",
                  "aten.log_sigmoid_forward.default", "aten._softmax.default",
                  "aten._log_softmax.default"]},
}
#: Operations that only wrap or alias CPU data: never work.
_WRAPPING = {aten.lift_fresh.default, aten.lift_fresh_copy.default, aten.detach.default,
             aten.alias.default}
#: Operations whose result the host must wait for.
_SYNCING = {aten._local_scalar_dense.default, aten.equal.default, aten.is_nonzero.default,
            aten.nonzero.default, aten.masked_select.default, aten._unique2.default,
            aten.unique_dim.default, aten.unique_consecutive.default,
            aten.repeat_interleave.Tensor}

#: Matrix products: on CUDA their rounding follows torch.backends.cuda.matmul's flags.
_PRODUCTS = {aten.mm.default, aten.addmm.default, aten.bmm.default, aten.baddbmm.default,
             aten.mv.default, aten.addmv.default, aten.dot.default, aten.mm.out,
             aten.addmm.out, aten.mm.dtype}
_MATMUL_FLAGS = ("allow_tf32", "allow_fp16_reduced_precision_reduction",
                 "allow_bf16_reduced_precision_reduction")

#: The simulation that is running (indexing reaches it through this).
_MODE = None


class DeviceMismatch(RuntimeError):
    """An operation mixed devices, as CUDA refuses to."""


class SimulatedCudaTensor(torch.Tensor):
    """A tensor of a CUDA device whose data is an ordinary CPU tensor, ``data_``.

    torch sees a tensor of the CUDA device, without storage, so that its own
    C++ code (``.cpu()``, ``.to()``, the CUDA autocast key, composite
    operations that make tensors with ``self.options()``) treats it as one.
    It never requires grad: even autograd's bookkeeping needs the CUDA
    runtime, which a CPU build of torch aborts on; ``requires_grad_`` is a
    no-op here (the library's training and attack compute their gradients in
    closed form, under ``torch.no_grad``).
    """

    @staticmethod
    def __new__(cls, data, device):
        strided = (
            {"strides": data.stride(), "storage_offset": data.storage_offset()}
            if data.layout == torch.strided else {}
        )
        tensor = torch.Tensor._make_wrapper_subclass(
            cls, data.size(), **strided, dtype=data.dtype, layout=data.layout, device=device,
            requires_grad=False,
        )
        tensor.data_ = data
        return tensor

    def __repr__(self):
        return f"SimulatedCudaTensor({self.data_!r}, device='{self.device}')"

    # A traceable wrapper subclass, so that Module.to swaps parameters for
    # tensors of this type instead of setting their .data.
    def __tensor_flatten__(self):
        return ["data_"], self.device

    @staticmethod
    def __tensor_unflatten__(inner, device, outer_size, outer_stride):
        return SimulatedCudaTensor(inner["data_"], device)

    def requires_grad_(self, requires_grad=True):
        return self

    # torch's Python bindings of these guard the CUDA device, which a CPU
    # build cannot: the scalar comes through the dispatcher instead.
    def item(self):
        return aten._local_scalar_dense.default(self)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous"
            )
        return bool(self.item())

    def tolist(self):
        return self.cpu().tolist()

    def __deepcopy__(self, memo):
        # Not torch's: it would deep-copy data_ as an attribute, on the CPU.
        memo[id(self)] = copied = aten.clone.default(self)
        return copied

    def copy_(self, source, non_blocking=False):
        return aten.copy_.default(self, source, non_blocking)

    def contiguous(self, memory_format=torch.contiguous_format):
        if self.is_contiguous(memory_format=memory_format):
            return self
        return aten.clone.default(self, memory_format=memory_format)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return torch.tensor(data, dtype=dtype or self.dtype, device=device or self.device)

    def __getitem__(self, index):
        return _MODE.getitem(self, index)

    def __setitem__(self, index, value):
        _MODE.setitem(self, index, value)

    def numpy(self, *args, **kwargs):
        # torch's words for a CUDA tensor (its own for a subclass differ).
        raise TypeError(
            f"can't convert {self.device} device type tensor to numpy. Use "
            "Tensor.cpu() to copy the tensor to host memory first."
        )

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError(f"{func} on a simulated CUDA tensor outside the simulation")


def _library_line():
    """``file:line function`` of the innermost library frame that called torch."""
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(_LIBRARY):
            return os.path.relpath(code.co_filename, _LIBRARY), frame.f_lineno, code.co_qualname
        frame = frame.f_back
    return None


def _data(tensor):
    """The CPU data of a simulated tensor; anything else as it is."""
    return tensor.data_ if isinstance(tensor, SimulatedCudaTensor) else tensor


def _where(line):
    return "outside the library" if line is None else f"{line[0]}:{line[1]} {line[2]}"


class SimulatedCuda(TorchDispatchMode):
    """Run aten operations on a simulated CUDA device and check their devices.

    Attributes
    ----------
    syncs : list of (str, tuple)
        Host syncs: the kind and the library line (file, line, function).
    host_to_device : list of tuple
        Library lines that copied a CPU tensor to the device.
    host_work : list of (str, tuple)
        Operations on CPU tensors: the op and the library line.
    mismatches : list of str
        Every device mismatch, also those that something caught.
    loose_products : list of (str, tuple)
        Matrix products on the device that ran while ``torch.backends.cuda.matmul``
        allowed TF32 or reduced-precision 16-bit reductions, and where.
    device_ops : int
        Operations that ran on the simulated device.
    """

    def __init__(self, n_devices=2, current=0):
        super().__init__()
        self.n_devices, self.current = n_devices, current
        self.syncs, self.host_to_device, self.host_work, self.mismatches = [], [], [], []
        self.device_ops = 0
        self.devices_used = set()
        self.loose_products = []

    def resolve(self, device):
        device = torch.device(device)
        if device.type != "cuda":
            return device
        index = self.current if device.index is None else device.index
        if index >= self.n_devices:
            raise RuntimeError(f"CUDA error: invalid device ordinal {index}")
        return torch.device("cuda", index)

    def _mismatch(self, func, devices):
        line = _library_line()
        message = (
            "Expected all tensors to be on the same device, but found at least two "
            f"devices, {', '.join(sorted(map(str, devices)))}! ({func}, at {_where(line)})"
        )
        self.mismatches.append(message)
        raise DeviceMismatch(message)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        target = kwargs.get("device")
        target = None if target is None else self.resolve(target)
        if target is not None:
            kwargs = dict(kwargs, device=torch.device("cpu"))
        if func is aten._to_copy.default:
            (source,) = args
            out = func(_data(source), **kwargs)
            simulated = isinstance(source, SimulatedCudaTensor)
            target = target or source.device
            if target.type == "cuda":
                if not simulated:
                    self.host_to_device.append(_library_line())
                self.devices_used.add(target)
                return SimulatedCudaTensor(out, target)
            if simulated:
                self.syncs.append(("device-to-host copy", _library_line()))
            elif source.dim():
                self.host_work.append((str(func), _library_line()))
            return out
        if func is aten.copy_.default:
            destination, source = args[:2]
            if isinstance(source, SimulatedCudaTensor) != isinstance(
                destination, SimulatedCudaTensor
            ):
                kind = "device-to-host copy" if isinstance(source, SimulatedCudaTensor) else None
                if kind:
                    self.syncs.append((kind, _library_line()))
                else:
                    self.host_to_device.append(_library_line())
            elif isinstance(source, SimulatedCudaTensor) and source.device != destination.device:
                self._mismatch(func, {source.device, destination.device})
            func(_data(destination), _data(source), *args[2:], **kwargs)
            return destination

        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        devices = {t.device for t in tensors if isinstance(t, SimulatedCudaTensor)}
        if target is not None:
            devices.add(target)
        host = [t for t in tensors if not isinstance(t, SimulatedCudaTensor) and t.dim()]
        if host:
            devices.add(torch.device("cpu"))
        if len(devices) > 1:
            self._mismatch(func, devices)
        device = devices.pop() if devices else torch.device("cpu")
        if func in _PRODUCTS and device.type == "cuda":
            matmul = torch.backends.cuda.matmul
            loose = [flag for flag in _MATMUL_FLAGS if getattr(matmul, flag, False)]
            if loose:
                self.loose_products.append((f"{func} with {', '.join(loose)}", _library_line()))
        if func in _SYNCING and device.type == "cuda":
            self.syncs.append((str(func), _library_line()))
        if func is aten.mm.dtype:
            # CUDA's 16-bit product with a float32 result, which the CPU
            # backend lacks: the exact products, summed in float32.
            a, b, out_dtype = tree_map(_data, args)
            out = torch.mm(a.float(), b.float()).to(out_dtype)
        else:
            out = func(*tree_map(_data, args), **tree_map(_data, kwargs))
        if device.type == "cpu":
            if func not in _WRAPPING and (
                host or any(isinstance(t, torch.Tensor) and t.dim() for t in tree_flatten(out)[0])
            ):
                self.host_work.append((str(func), _library_line()))
            return out
        self.device_ops += 1
        self.devices_used.add(device)
        if func._schema.name.endswith("_") and isinstance(args[0], SimulatedCudaTensor):
            return args[0]  # in place
        if isinstance(kwargs.get("out"), SimulatedCudaTensor):
            return kwargs["out"]
        return tree_map(
            lambda t: SimulatedCudaTensor(t, device) if isinstance(t, torch.Tensor) else t, out
        )

    def _index_devices(self, tensor, index):
        """Check the tensors in ``index`` as an operation with ``tensor`` would be."""
        flat = tree_flatten(index if isinstance(index, tuple) else (index,))[0]
        for item in flat:
            if isinstance(item, np.ndarray):
                item = torch.from_numpy(item)
            if not isinstance(item, torch.Tensor):
                continue
            if isinstance(item, SimulatedCudaTensor):
                if item.device != tensor.device:
                    self._mismatch("indexing", {item.device, tensor.device})
                if item.dtype == torch.bool:
                    self.syncs.append(("boolean mask", _library_line()))
            elif item.dim():
                # CUDA would copy a CPU index; the library should not need to.
                self._mismatch("indexing", {torch.device("cpu"), tensor.device})
        return tuple(map(_data, index)) if isinstance(index, tuple) else _data(index)

    def getitem(self, tensor, index):
        index = self._index_devices(tensor, index)
        with _pop_mode_temporarily():
            out = tensor.data_[index]
        self.device_ops += 1
        return SimulatedCudaTensor(out, tensor.device)

    def setitem(self, tensor, index, value):
        index = self._index_devices(tensor, index)
        if isinstance(value, SimulatedCudaTensor):
            if value.device != tensor.device:
                self._mismatch("indexed assignment", {value.device, tensor.device})
            value = value.data_
        elif isinstance(value, torch.Tensor) and value.dim():
            self.host_to_device.append(_library_line())
        with _pop_mode_temporarily():
            tensor.data_[index] = value
        self.device_ops += 1

    def unexpected_host_work(self):
        """Library lines that worked on CPU tensors without a reason in HOST_WORK."""
        return Counter(
            f"{_where(line)} {op}"
            for op, line in self.host_work
            if line is not None and (os.path.basename(line[0]), line[2], op) not in HOST_WORK
        )

    def check(self, device=DEVICE):
        """Fail on a device mismatch (even a caught one), on unexpected host work,
        or on work on another device than ``device``."""
        assert not self.mismatches, "device mismatch:\n" + "\n".join(self.mismatches)
        unexpected = self.unexpected_host_work()
        assert not unexpected, f"work on the CPU instead of {device}: {dict(unexpected)}"
        assert self.device_ops, "nothing ran on the simulated device"
        assert self.devices_used == {device}, f"work on {self.devices_used}, not {device} alone"

    def sync_lines(self):
        """The host syncs, counted by kind and library function (file and name)."""
        return Counter(
            f"{kind} in " + ("outside the library" if line is None else f"{line[0]} {line[2]}")
            for kind, line in self.syncs
        )


def _indexed(device, current):
    """``device`` with the ``current`` index where it names CUDA without one."""
    if isinstance(device, (str, torch.device)) and str(device) == "cuda":
        return torch.device("cuda", current)
    return device


class _PythonEntryPoints(TorchFunctionMode):
    """The two ways into CUDA that torch takes before its dispatcher.

    * A CUDA device without an index (``"cuda"``) gets the current device's
      from the CUDA runtime in some Python bindings (``Tensor.to("cuda")``):
      it is given the simulated current index here.
    * ``torch.tensor`` and ``torch.as_tensor`` of Python data are built with
      the Python dispatch off, so that they would reach the CUDA kernels, and
      ``torch.sparse_csr_tensor`` guards the device in its binding: they are
      built in host memory and then copied to the device.
    """

    def __init__(self, current):
        super().__init__()
        self.current = current

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.to:
            args = tuple(_indexed(arg, self.current) for arg in args)
        if "device" in kwargs:
            kwargs = dict(kwargs, device=_indexed(kwargs["device"], self.current))
        if func is torch.Tensor.cuda and not args[1:] and kwargs.get("device") is None:
            kwargs = dict(kwargs, device=torch.device("cuda", self.current))
        device = kwargs.get("device")
        if (
            device is not None
            and torch.device(device).type == "cuda"
            and (
                func in (torch.tensor, torch.as_tensor)
                and not isinstance(args[0], torch.Tensor)
                or func is torch.sparse_csr_tensor
            )
        ):
            # Made in host memory (not work on the CPU), then copied over.
            with _pop_mode_temporarily():
                on_host = func(*args, **dict(kwargs, device="cpu"))
            return on_host.to(device)
        return func(*args, **kwargs)


@contextmanager
def simulated_cuda(monkeypatch, n_devices=2):
    """Run the block on ``n_devices`` simulated CUDA devices; yield the :class:`SimulatedCuda`."""
    mode = SimulatedCuda(n_devices)
    with monkeypatch.context() as patch:
        patch.setattr(torch.cuda, "is_available", lambda: True)
        patch.setattr(torch.cuda, "device_count", lambda: n_devices)
        patch.setattr(torch.cuda, "current_device", lambda: mode.current)
        patch.setattr(torch.cuda, "_lazy_init", lambda: None)
        patch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
        global _MODE
        _MODE = mode
        try:
            with _PythonEntryPoints(mode.current), mode:
                yield mode
        finally:
            _MODE = None


@pytest.fixture
def sim(monkeypatch):
    """Simulated CUDA devices for the test, checked when it ends."""
    with simulated_cuda(monkeypatch) as mode:
        yield mode
    mode.check()


def simulates(what):
    """Mark a test with what it runs on the simulated device."""
    return pytest.mark.simulated_cuda(what)


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(n_samples=60, centers=2, n_features=5, random_state=0)
    return StandardScaler().fit_transform(X).astype(np.float32), y


def _on_device(module, device=DEVICE):
    """Assert that every parameter and buffer of ``module`` is on ``device``."""
    for name, tensor in (*module.named_parameters(), *module.named_buffers()):
        assert isinstance(tensor, SimulatedCudaTensor) and tensor.device == device, name


def _numpy(*arrays):
    for array in arrays:
        assert isinstance(array, np.ndarray), type(array)


# --- the harness itself ------------------------------------------------------


@simulates("the harness: placement, the current device, the way back to numpy")
def test_harness_places_checks_and_syncs(sim):
    a = torch.ones(3, device="cuda:1")
    assert isinstance(a, SimulatedCudaTensor) and a.device == DEVICE and a.is_cuda
    assert torch.zeros(2, device="cuda").device == torch.device("cuda", 0)
    b = torch.as_tensor(np.arange(3.0), device=DEVICE) * a
    with pytest.raises(TypeError, match="numpy"):
        b.numpy()
    np.testing.assert_array_equal(b.cpu().numpy(), [0.0, 1.0, 2.0])
    assert float(b.sum()) == 3.0
    b * torch.tensor(2.0)  # a 0-d CPU tensor passes, as on CUDA
    assert len(sim.syncs) == 2 and len(sim.host_to_device) == 1
    with pytest.raises(DeviceMismatch, match="cpu, cuda:1"):
        b + torch.ones(3)
    with pytest.raises(DeviceMismatch, match="cuda:0, cuda:1"):
        b + torch.ones(3, device="cuda")
    with pytest.raises(AssertionError, match="device mismatch"):
        sim.check()
    sim.mismatches.clear()
    with pytest.raises(AssertionError, match="not cuda:1 alone"):
        sim.check()
    sim.devices_used.discard(torch.device("cuda", 0))


@simulates("device='cuda' without an index: the current device, cuda:0, throughout")
def test_cuda_without_an_index_is_the_current_device(monkeypatch, data):
    with simulated_cuda(monkeypatch) as mode:
        clf = WideTwoLayerNetClassifier(hidden_dim=20, max_epochs=3, device="cuda",
                                        random_state=0).fit(*data)
        _numpy(clf.predict_proba(data[0]))
    _on_device(clf.module_, torch.device("cuda", 0))
    mode.check(torch.device("cuda", 0))


# --- the classifier ----------------------------------------------------------


@simulates("WideTwoLayerNetClassifier: fit with sample and class weights, predictions")
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_classifier_fits_and_predicts_on_the_device(sim, data, solver):
    X, y = data
    weights = np.linspace(0.5, 2.0, len(y))
    params = {"hidden_dim": 40, "solver": solver, "max_epochs": 8,
              "class_weight": "balanced", "random_state": 0}
    clf = WideTwoLayerNetClassifier(device="cuda:1", **params).fit(X, y, sample_weight=weights)
    _on_device(clf.module_)
    for state in clf.net_.optimizer_.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.dim():
                assert value.device == DEVICE, key
    outputs = clf.predict(X), clf.predict_proba(X), clf.decision_function(X)
    _numpy(*outputs)
    assert np.isfinite(clf.loss_curve_).all() and len(clf.loss_curve_) == 8

    with _no_simulation():
        cpu = WideTwoLayerNetClassifier(device="cpu", **params).fit(
            X, y, sample_weight=weights
        )
        expected = cpu.predict(X), cpu.predict_proba(X), cpu.decision_function(X)
    for got, want in zip(outputs, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@contextmanager
def _no_simulation():
    """Leave the simulation for a block (for a reference on the CPU)."""
    with _pop_mode_temporarily():
        yield


@simulates("WideTwoLayerNetClassifier: partial_fit, K classes, mini-batches, early stopping")
def test_partial_fit_and_mini_batches_on_the_device(sim):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = WideTwoLayerNetClassifier(hidden_dim=30, batch_size=32, max_epochs=2,
                                    device="cuda:1", random_state=0)
    for _ in range(2):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    _on_device(clf.module_)
    _numpy(clf.predict(X), clf.predict_proba(X), clf.decision_function(X))
    assert clf.decision_function(X).shape == (150, 3)
    stopped = WideTwoLayerNetClassifier(hidden_dim=30, early_stopping=True, max_epochs=4,
                                        device="cuda:1", random_state=0).fit(X, y)
    _on_device(stopped.module_)
    _numpy(stopped.predict(X))


@simulates("scipy CSR input: torch sparse CSR batches on the device, fit, predict, attack")
@pytest.mark.parametrize("batch_size", [None, 16], ids=["full-batch", "mini-batch"])
def test_sparse_input_on_the_device(sim, data, batch_size):
    X, y = data
    X = sparse.csr_matrix(X)
    weights = np.linspace(0.5, 2.0, len(y))
    params = {"hidden_dim": 30, "max_epochs": 3, "batch_size": batch_size, "random_state": 0}
    clf = WideTwoLayerNetClassifier(device="cuda:1", **params).fit(X, y, sample_weight=weights)
    _on_device(clf.module_)
    proba = clf.predict_proba(X)
    attack = AdversarialPerturbationTransformer(clf, epsilon=0.5, prefit=True, random_state=0)
    X_adv, _ = attack.fit_resample(X, y)
    _numpy(proba, X_adv)
    with _no_simulation():
        cpu = WideTwoLayerNetClassifier(**params).fit(X, y, sample_weight=weights)
        expected = cpu.predict_proba(X)
    np.testing.assert_allclose(proba, expected, rtol=1e-5, atol=1e-6)


# --- the attack ----------------------------------------------------------------


@simulates("targeted_perturbation on a module on the device: L2 and L_inf, PGD")
@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_attack_on_the_device(sim, data, norm):
    X, _ = data
    target = np.arange(len(X)) % 2
    with _no_simulation():
        net = TwoLayerNetwork(n_features=X.shape[1], hidden_dim=40, seed=0)
        expected = targeted_perturbation(net, X, target, epsilon=0.5, norm=norm, steps=3)
    net = net.to("cuda:1")
    _on_device(net)
    r = targeted_perturbation(net, X, target, epsilon=0.5, norm=norm, steps=3, batch_size=25)
    _numpy(r)
    np.testing.assert_allclose(r, expected, rtol=1e-5, atol=1e-6)


@simulates("targeted_perturbation of K logits (the closed-form input gradient), clipped")
def test_multiclass_attack_on_the_device(sim):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    with _no_simulation():
        net = TwoLayerNetwork(n_features=4, hidden_dim=30, n_outputs=3, seed=0)
        expected = targeted_perturbation(net, X, y, epsilon=0.5, steps=2, clip=(-2, 2))
    r = targeted_perturbation(net.to("cuda:1"), X, y, epsilon=0.5, steps=2, clip=(-2, 2))
    _numpy(r)
    np.testing.assert_allclose(r, expected, rtol=1e-5, atol=1e-6)


@simulates("AdversarialPerturbationTransformer(prefit=True) of a classifier on the device")
def test_transformer_on_the_device(sim, data):
    X, y = data
    clf = WideTwoLayerNetClassifier(hidden_dim=40, max_epochs=5, device="cuda:1",
                                    random_state=0).fit(X, y)
    attack = AdversarialPerturbationTransformer(clf, epsilon=0.5, prefit=True, random_state=0)
    X_adv, y_adv = attack.fit_resample(X, y)
    _numpy(X_adv, y_adv, attack.transform(X), attack.perturb(X, y))
    assert X_adv.shape == X.shape
    _on_device(attack.estimator.module_)
    uniform = AdversarialPerturbationTransformer(clf, epsilon=0.5, base="uniform", prefit=True,
                                                 random_state=0)
    _numpy(*uniform.fit_resample(X, y))


@simulates("PerturbationLearningClassifier: f and g trained, attacked and predicting on the device")
def test_perturbation_learning_on_the_device(sim, data):
    X, y = data
    meta = PerturbationLearningClassifier(
        WideTwoLayerNetClassifier(hidden_dim=40, max_epochs=5, device="cuda:1"),
        epsilon=0.5, random_state=0,
    ).fit(X, y)
    _numpy(meta.predict(X), meta.predict_proba(X))
    for fitted in (meta.source_estimator_, meta.estimator_):
        # With standardize=True (the default) each is a Pipeline of a scaler and the net.
        _on_device(getattr(fitted, "steps", [(None, fitted)])[-1][1].module_)


# --- the theory ------------------------------------------------------------------


@simulates("phi_kernel, hat_f, hat_g and LazyRegimeClassifier with device='cuda:1'")
def test_theory_on_the_device(sim, data):
    X, y = data
    X = X.astype(np.float64)
    signs = np.where(y == 1, 1.0, -1.0)
    Z, X_adv = X[:7] + 0.1, X + 0.05
    calls = [
        lambda device: phi_kernel(X, device=device),
        lambda device: phi_kernel(X, Z, slope=0.1, device=device),
        lambda device: phi_kernel(X, Z, method="monte_carlo", n_draws=50, random_state=0,
                                  device=device),
        lambda device: hat_f(X, signs, Z, device=device),
        lambda device: hat_g(X, signs, Z, X_adv, slope=0.1, device=device),
        lambda device: LazyRegimeClassifier(device=device).fit(X, y).decision_function(Z),
        lambda device: LazyRegimeClassifier(device=device).fit(X, y).predict(Z),
    ]
    got = [call("cuda:1") for call in calls]
    _numpy(*got)
    with _no_simulation():
        expected = [call("cpu") for call in calls]
    for value, want in zip(got, expected):
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)


@simulates("theory.decision_map of two classifiers on the device, with device='cuda:1'")
def test_decision_map_on_the_device(sim, data):
    X, y = data
    signs = np.where(y == 1, 1.0, -1.0)
    f, g = (WideTwoLayerNetClassifier(hidden_dim=20, max_epochs=3, device="cuda:1",
                                      random_state=seed).fit(X, y) for seed in (0, 1))
    maps = theory.decision_map(X, signs, f, g, X_adv=X + 0.1, resolution=12, device="cuda:1")
    _numpy(maps.f, maps.g, maps.hat_f, maps.hat_g)
    assert maps.hat_g.shape == (12, 12) and np.isfinite(maps.hat_g).all()


@simulates("precision='16-mixed' and 'bf16-mixed': CUDA-only on the CPU for float16")
@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_mixed_precision_on_the_device(sim, data, precision):
    X, y = data
    params = {"hidden_dim": 40, "max_epochs": 5, "random_state": 0}
    clf = WideTwoLayerNetClassifier(device="cuda:1", precision=precision, **params).fit(X, y)
    _on_device(clf.module_)
    proba = clf.predict_proba(X)
    _numpy(proba)
    with _no_simulation():
        expected = WideTwoLayerNetClassifier(**params).fit(X, y).predict_proba(X)
    # The products in 16 bits (on the CPU's kernels here), the rest in float32.
    np.testing.assert_allclose(proba, expected, atol=1e-3)


@contextmanager
def _loose_matmul():
    """Allow TF32 and reduced-precision reductions in CUDA products, as a caller may."""
    matmul = torch.backends.cuda.matmul
    saved = {flag: getattr(matmul, flag) for flag in _MATMUL_FLAGS if hasattr(matmul, flag)}
    try:
        for flag in saved:
            setattr(matmul, flag, True)
        yield
    finally:
        for flag, value in saved.items():
            setattr(matmul, flag, value)


@simulates("the library's own numerics on CUDA: no TF32 or reduced 16-bit reductions "
           "in its products, whatever the caller allows")
def test_products_on_the_device_are_exact_to_their_types(monkeypatch, data):
    X, y = data
    with _loose_matmul(), simulated_cuda(monkeypatch) as mode:
        assert torch.backends.cuda.matmul.allow_tf32
        clf = WideTwoLayerNetClassifier(hidden_dim=20, max_epochs=3, device="cuda:1",
                                        random_state=0).fit(X, y)
        clf.predict_proba(X)
        targeted_perturbation(clf.module_, X, y, epsilon=0.5, steps=2)
        hat_g(X, 2 * y - 1, X[:5], 0.1 * X, device="cuda:1")
        LazyRegimeClassifier(device="cuda:1").fit(X, y).predict(X)
        # The harness sees a product outside the library's context.
        torch.ones(2, 2, device="cuda:1") @ torch.ones(2, 2, device="cuda:1")
    mode.check()
    assert [where for where, line in mode.loose_products if line is not None] == []
    assert len(mode.loose_products) == 1


# --- host syncs ------------------------------------------------------------------


def _fit_syncs(monkeypatch, data, epochs, *, weighted=False, **params):
    """The host syncs of a full-batch SGD fit of ``epochs`` epochs, by library function."""
    X, y = data
    with simulated_cuda(monkeypatch) as mode:
        WideTwoLayerNetClassifier(
            **{"hidden_dim": 40, "solver": "sgd", "loss": "identity", "lr": 0.01,
               "batch_size": None, "lr_scheduler": None, "max_epochs": epochs,
               "device": "cuda:1", "random_state": 0} | params
        ).fit(X, y, sample_weight=np.linspace(0.5, 2.0, len(y)) if weighted else None)
    mode.check()
    return mode.sync_lines()


def syncs_per_epoch(monkeypatch, data, **params):
    """Host syncs per epoch of a full-batch SGD fit, by library function."""
    short, long = (_fit_syncs(monkeypatch, data, epochs, **params) for epochs in (2, 12))
    long.subtract(short)
    return {line: count / 10 for line, count in long.items() if count}


@simulates("host syncs per epoch of a full-batch SGD fit")
@pytest.mark.parametrize("precision", ["32-true", "16-mixed"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_host_syncs_per_epoch(monkeypatch, data, weighted, precision):
    # 16-mixed too: its float16 weight gradient comes back in float32
    # (torch.mm's out_dtype), so no finiteness test waits for the step.
    per_epoch = syncs_per_epoch(monkeypatch, data, weighted=weighted, precision=precision)
    # skorch reads every batch's loss (step["loss"].item()): one sync per
    # full-batch epoch, with sample weights too (their total stays on the
    # device, since one batch needs no weighing).
    assert per_epoch == {"aten._local_scalar_dense.default in _skorch.py train": 1.0}


# --- planted bugs: the harness catches them ----------------------------------------


def _plant_in_signed_targets(monkeypatch, **where):
    """Plant a tensor made without the input's device in the training step's labels."""

    def signed_targets(target, dtype):
        return (2 * target - 1).to(dtype) * torch.ones(len(target), dtype=dtype, **where)

    monkeypatch.setattr(_network, "signed_targets", signed_targets)


@simulates("a planted bug: torch.ones(n) without device= in the training step")
@pytest.mark.parametrize("where, devices", [({}, "cpu, cuda:1"),
                                            ({"device": "cuda"}, "cuda:0, cuda:1")],
                         ids=["cpu", "current-device"])
def test_planted_wrong_device_tensor_fails(monkeypatch, data, where, devices):
    _plant_in_signed_targets(monkeypatch, **where)
    with simulated_cuda(monkeypatch) as mode, pytest.raises(DeviceMismatch, match=devices):
        WideTwoLayerNetClassifier(hidden_dim=40, loss="identity", max_epochs=2,
                                  device="cuda:1", random_state=0).fit(*data)
    # A mismatch fails the check even where the library would catch it.
    with pytest.raises(AssertionError, match="(?s)device mismatch.*_network.py"):
        mode.check()
    if not where:
        # The same code runs on the CPU: only a device shows the bug.
        WideTwoLayerNetClassifier(hidden_dim=40, loss="identity", max_epochs=2,
                                  random_state=0).fit(*data)


@simulates("a planted bug: the theory's tensors made on the CPU, whatever the device")
def test_planted_silent_cpu_computation_fails(monkeypatch, data):
    X, y = data
    signs = np.where(y == 1, 1.0, -1.0)
    monkeypatch.setattr(theory, "to_tensors",
                        lambda arrays, device: _kernel.to_tensors(arrays, "cpu"))
    with simulated_cuda(monkeypatch) as mode:
        values = hat_f(X, signs, X[:5], device="cuda:1")
    # Right numbers, returned as numpy, nothing mixed: only the check sees it.
    _numpy(values)
    assert not mode.mismatches
    with pytest.raises(AssertionError, match="(?s)work on the CPU instead of cuda:1.*_kernel.py"):
        mode.check()


@simulates("a planted bug: one more host sync per epoch (a gradient norm read each step)")
def test_planted_sync_per_epoch_is_counted(monkeypatch, data):
    step = _skorch.optimizer_step

    def logging_step(optimizer, params, grads):
        logging_step.norms.append(float(grads[0].norm()))
        return step(optimizer, params, grads)

    logging_step.norms = []
    monkeypatch.setattr(_skorch, "optimizer_step", logging_step)
    per_epoch = syncs_per_epoch(monkeypatch, data)
    assert sum(per_epoch.values()) == 2
    planted = [line for line in per_epoch if "ClosedFormNet.train_step" in line]
    assert len(planted) == 1 and per_epoch[planted[0]] == 1.0


@simulates("the training rows uploaded once per fit")
def test_a_fit_uploads_its_rows_once(monkeypatch, data):
    # The convergence check predicts on the rows the training uploaded,
    # rather than uploading X a second time.
    X, y = data
    with simulated_cuda(monkeypatch) as mode:
        WideTwoLayerNetClassifier(
            hidden_dim=40, solver="sgd", max_epochs=3, device="cuda:1", random_state=0
        ).fit(X, y)
    mode.check()
    uploads = [line for line in mode.host_to_device if "to_tensor" in str(line)]
    assert len(uploads) == 1, uploads
