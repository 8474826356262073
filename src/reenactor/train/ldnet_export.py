"""Validation and export of an LD-Net trained by ``reenactor train ldnet``.

:func:`validate` scores held-out transfer on fixed pairs (:func:`val_pairs`),
:class:`TorchLDNet` wraps the torch network for the benchmarks, and
:func:`export_onnx` writes the inference graph. :mod:`reenactor.train.ldnet`
re-exports these names. Torch is imported inside functions only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


# ------------------------------------------------------------- validation
def val_pairs(val, n_frames: int = 24, seed: int = 12345):
    """Fixed validation pairs: per val clip, two identity changes B and C and frames.

    Returns:
        dict with ``rows`` (M,), ``ref_rows`` (M,), ``params`` (IdentityParams with
        2 entries per clip), ``b`` and ``c`` (M,) entries of ``params``.
    """
    from reenactor.train.ldnet_data import sample_identity_params

    rng = np.random.default_rng(seed)
    n_clips = len(val.reference)
    params = sample_identity_params(rng, 2 * n_clips)
    rows, refs, b, c = [], [], [], []
    for ci in range(n_clips):
        idx = np.flatnonzero(val.clip == ci)
        pick = idx[np.linspace(0, len(idx) - 1, min(n_frames, len(idx))).round().astype(int)]
        rows.append(pick)
        refs.append(np.full(len(pick), val.reference[ci]))
        b.append(np.full(len(pick), 2 * ci))
        c.append(np.full(len(pick), 2 * ci + 1))
    return {"rows": np.concatenate(rows), "ref_rows": np.concatenate(refs), "params": params, "b": np.concatenate(b), "c": np.concatenate(c)}


class TorchLDNet:
    """The :class:`reenactor.motion.ldnet.LDNetModel` interface over a torch LD-Net (numpy in/out)."""

    def __init__(self, net, space: str) -> None:
        self.net, self.space = net, space

    def _f(self, fn, *arrays):
        import torch

        with torch.no_grad():
            return fn(*(torch.from_numpy(np.ascontiguousarray(a, np.float32)) for a in arrays)).numpy()

    def identity(self, vectors):
        return self._f(self.net.E_I, vectors)

    def pose(self, vectors):
        return self._f(self.net.E_P, vectors)

    def generate(self, vectors, identity_codes):
        return self._f(lambda v, c: self.net.G(self.net.E_P(v), c), vectors, identity_codes)


def validate(net, val, pairs: dict, space: str) -> dict[str, float]:
    """Held-out transfer error in the normalised frame, in inter-ocular units.

    For each pair, ``G(E_P(C_t), E_I(B_ref))`` is compared with ``B_t`` (both
    normalised): mean point distance divided by B_t's inter-ocular distance.
    Also returns the same error of the driver C_t used as it is.
    """
    import torch

    from reenactor.train.ldnet_data import TorchSet, normalise_torch

    ts = TorchSet(val, pairs["params"], n_aug=0)
    dims = 3 if space == "3d" else 2
    with torch.no_grad():
        ts.A, ts.t, ts.blobs = (torch.from_numpy(a) for a in (pairs["params"].A, pairs["params"].t, pairs["params"].blob_centres))
        b_t = normalise_torch(ts.landmarks(pairs["rows"], pairs["b"]), space)
        c_t = normalise_torch(ts.landmarks(pairs["rows"], pairs["c"]), space)
        b_r = normalise_torch(ts.landmarks(pairs["ref_rows"], pairs["b"]), space)
        out = net.G(net.E_P(c_t), net.E_I(b_r))

        def err(a):
            pa, pb = a.reshape(len(a), -1, dims), b_t.reshape(len(a), -1, dims)
            iod = (pb[:, 263, :2] - pb[:, 33, :2]).norm(dim=-1)
            return float(((pa - pb)[..., :2].norm(dim=-1).mean(1) / iod).mean())

        return {"val_ldnet": err(out), "val_driver": err(c_t)}


# ----------------------------------------------------------------- export
def export_onnx(net, path: Path, space: str, fp16_weights: bool = True, extra_meta: dict | None = None) -> Path:
    """Export E_I, E_P and G as one ONNX graph (opset 17).

    Inputs ``landmarks`` (N, D) float32, ``identity_code`` (N, 128) and
    ``identity_landmarks`` (M, D); outputs ``identity``, ``pose``, ``generated`` (see
    :class:`reenactor.models.ldnet.InferenceGraph`). With ``fp16_weights`` the
    weight matrices are stored as float16 and cast back to float32 when the
    session is built (half the file size; outputs differ from float32 by
    about 1e-3 of the face size).
    """
    import onnx
    import torch
    from onnx import helper, numpy_helper

    from reenactor.models.ldnet import InferenceGraph

    graph = InferenceGraph(net).eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    x = torch.zeros(2, net.dim)
    c = torch.zeros(2, 128)
    xi = torch.zeros(3, net.dim)
    torch.onnx.export(
        graph, (x, c, xi), str(tmp), dynamo=False, opset_version=17,
        input_names=["landmarks", "identity_code", "identity_landmarks"], output_names=["identity", "pose", "generated"],
        dynamic_axes={"landmarks": {0: "n"}, "identity_code": {0: "n"}, "identity_landmarks": {0: "m"},
                      "identity": {0: "m"}, "pose": {0: "n"}, "generated": {0: "n"}},
    )
    model = onnx.load(str(tmp))
    tmp.unlink()
    if fp16_weights:
        g = model.graph
        new_inits, casts = [], []
        for init in g.initializer:
            arr = numpy_helper.to_array(init)
            if arr.dtype == np.float32 and arr.ndim == 2:
                name16 = init.name + "_fp16"
                new_inits.append(numpy_helper.from_array(arr.astype(np.float16), name16))
                casts.append(helper.make_node("Cast", [name16], [init.name], to=onnx.TensorProto.FLOAT, name=init.name + "_cast"))
            else:
                new_inits.append(init)
        del g.initializer[:]
        g.initializer.extend(new_inits)
        nodes = casts + list(g.node)
        del g.node[:]
        g.node.extend(nodes)
    meta = {"space": space, "points": "478", "normalisation": "square bbox of x/y to [-1,1]"}
    meta.update({k: str(v) for k, v in (extra_meta or {}).items()})
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
