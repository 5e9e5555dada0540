#!/usr/bin/env python3
"""The PyTorch peer of Wudao's GPU benchmarks, on Wudao's very weights and inputs.

    python3 tests/gpu/torch_moe.py EXCHANGE PARTS [--device cuda|cpu] [--runs N] [--budget-s S]

`wudao-gpu bench --exchange EXCHANGE` leaves one folder per benchmark there: raw little-endian
fp32 tensors and a manifest.json naming them, with Wudao's outputs and times. For each MoE layer
and token count this runs a FastMoE-style layer (gate, top-k, sort by expert, per-expert matmuls,
index_add) eagerly and under torch.compile, checks its output against Wudao's, times it with
CUDA events, and writes the rows to PARTS/torch.json, which `wudao-gpu report` merges into the
results table. Attention runs scaled_dot_product_attention on the same q, k, v.

Only torch and numpy are needed (no safetensors). fp32 matmuls run without TF32, as Wudao's do.
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

RTOL, ATOL = 1e-3, 1e-4


def load(folder, entry, device):
    data = np.fromfile(os.path.join(folder, entry["file"]), dtype="<f4")
    shape = entry["shape"]
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{entry['file']}: {data.size} floats where {shape} needs {int(np.prod(shape))}")
    return torch.from_numpy(data.reshape(shape)).to(device)


def activation(name, hidden):
    if name == "gelu":
        return F.gelu  # exact (erf), as Wudao's
    if name == "relu":
        return F.relu
    if name == "silu":
        return F.silu
    if name == "swiglu":
        return lambda a: F.silu(a[:, :hidden]) * a[:, hidden:]
    if name == "geglu":
        return lambda a: F.gelu(a[:, :hidden]) * a[:, hidden:]
    raise ValueError(f"no PyTorch peer for activation {name}")


def moe_forward(x, wg, w1, b1, w2, b2, k: int, act):
    """FastMoE-style top-k MoE. Its one host synchronisation: the expert counts, read as a list."""
    probs = torch.softmax(x @ wg, dim=1)
    top, experts = probs.topk(k, dim=1)
    gates = top / top.sum(dim=1, keepdim=True)
    flat = experts.reshape(-1)
    order = torch.sort(flat, stable=True).indices
    counts = torch.bincount(flat, minlength=w1.shape[0]).tolist()
    token = order // k
    gate = gates.reshape(-1)[order]
    rows = x[token]
    out = torch.zeros_like(x)
    start = 0
    for e, n in enumerate(counts):
        if n == 0:
            continue
        part = slice(start, start + n)
        y = act(rows[part] @ w1[e] + b1[e]) @ w2[e] + b2[e]
        out.index_add_(0, token[part], y * gate[part, None])
        start += n
    return out


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_ms(call, device, warmup, runs):
    """Milliseconds of each timed run: CUDA events on a GPU, the wall clock on the CPU."""
    for _ in range(warmup):
        call()
    synchronize(device)
    times = []
    for _ in range(runs):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            begin = time.perf_counter()
            call()
            times.append((time.perf_counter() - begin) * 1e3)
    return times


def row(group, benchmark, implementation, times, flops=None, peak=None, ceiling=None, diff=None, note=None):
    median = float(np.median(times))
    rate = None if flops is None else flops / (median * 1e-3) / 1e12
    return {
        "group": group, "benchmark": benchmark, "implementation": implementation, "measure": "whole",
        "median_ms": median, "min_ms": float(min(times)), "runs": len(times),
        "rate": rate, "unit": None if rate is None else "TFLOP/s",
        "fraction": None if rate is None or not peak else rate / peak, "of": ceiling,
        "max_abs_diff": diff, "note": note,
    }


def compare(name, got, expected, errors):
    if expected is None:
        errors.append(f"{name}: Wudao left no output to compare with (its run was cut short?)")
        return None
    diff = float((got - expected).abs().max()) if got.numel() else 0.0
    if not torch.allclose(got, expected, rtol=RTOL, atol=ATOL):
        errors.append(f"{name}: PyTorch's output differs from Wudao's beyond rtol={RTOL}, atol={ATOL} (max abs diff {diff:.3g}, max |Wudao| {float(expected.abs().max()):.3g})")
    return diff


def run_moe(folder, m, device, args, started, rows, errors, save):
    """Every token count eagerly first, then under torch.compile: a time limit then cuts compilations, not eager rows."""
    h = m["hidden"]
    w = {name: load(folder, entry, device) for name, entry in m["weights"].items()}
    act = activation(m["activation"], h)
    cases = [(case, load(folder, case["x"], device), load(folder, case["wudao_out"], device) if "wudao_out" in case else None) for case in m["cases"]]

    def layer(fn, x):
        return lambda: fn(x, w["gate.weight"], w["experts.w1"], w["experts.b1"], w["experts.w2"], w["experts.b2"], m["top_k"], act)

    def measure(case, call, expected, implementation, note):
        begin = time.monotonic()
        diff = compare(f"{case['benchmark']} {implementation}", call(), expected, errors)
        note = note.format(first=time.monotonic() - begin, top=float("nan") if expected is None else float(expected.abs().max()))
        rows.append(row("moe", case["benchmark"], f"{implementation} ({device.type})", time_ms(call, device, args.warmup, args.runs),
                        case["expert_flops"], m["peak_tflops"], m["flop_ceiling"], diff, note))
        shown = "none" if diff is None else f"{diff:.3g}"
        print(f"  {case['benchmark']} | {rows[-1]['implementation']} | {rows[-1]['median_ms']:.4g} ms | max abs diff {shown} | {note}", flush=True)
        save()

    for case, x, expected in cases:
        measure(case, layer(moe_forward, x), expected, "PyTorch eager", "FastMoE-style; 1 host sync (expert counts); max |Wudao out| {top:.3g}")
    if not hasattr(torch, "compile") or args.no_compile:
        errors.append(f"{m['name']}: torch.compile " + ("skipped (--no-compile)" if args.no_compile else f"is not in torch {torch.__version__}"))
        return
    compiled = torch.compile(moe_forward)
    for case, x, expected in cases:
        if time.monotonic() - started > args.budget_s:
            errors.append(f"{case['benchmark']}: torch.compile skipped, the {args.budget_s:.0f} s budget is spent")
            continue
        try:
            measure(case, layer(compiled, x), expected, "PyTorch compile", "torch.compile of the same function; first call (compiling) {first:.1f} s")
        except Exception as e:  # a compiler failure is a result too
            errors.append(f"{case['benchmark']}: torch.compile failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")


def run_attention(folder, m, device, args, rows, errors):
    # Wudao's layout is [tokens, heads, dim]; SDPA's is [batch, heads, tokens, dim].
    q, k, v = (load(folder, m[n], device).transpose(0, 1).unsqueeze(0).contiguous() for n in ("q", "k", "v"))
    expected = load(folder, m["wudao_out"], device)

    fused = hasattr(F, "scaled_dot_product_attention")
    mask = None if fused else torch.ones(q.shape[2], q.shape[2], dtype=torch.bool, device=device).tril()

    def sdpa():
        if fused:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        # torch before 2.0 (a local smoke run): the same attention written out.
        scores = (q @ k.transpose(-1, -2)) / q.shape[-1] ** 0.5
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v

    got = sdpa().squeeze(0).transpose(0, 1)
    diff = compare(m["benchmark"], got, expected, errors)
    rows.append(row("attention", m["benchmark"], f"PyTorch eager ({device.type})", time_ms(sdpa, device, args.warmup, args.runs),
                    m["flops"], m["peak_tflops"], m["flop_ceiling"], diff,
                    "scaled_dot_product_attention, causal (no log-sum-exp out)" if fused else f"causal attention written out (no SDPA in torch {torch.__version__})"))
    print(f"  {rows[-1]['benchmark']} | {rows[-1]['implementation']} | {rows[-1]['median_ms']:.4g} ms | max abs diff {diff:.3g}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("exchange")
    parser.add_argument("parts")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--budget-s", type=float, default=150, help="no new torch.compile after this many seconds")
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {name}", flush=True)
    rows, errors = [], []
    out = os.path.join(args.parts, "torch.json")
    os.makedirs(args.parts, exist_ok=True)

    def save():
        with open(out + ".part", "w") as f:
            json.dump({"torch": torch.__version__, "device": name, "rows": rows, "errors": errors}, f, indent=2)
        os.replace(out + ".part", out)

    manifests = sorted(glob.glob(os.path.join(args.exchange, "*", "manifest.json")))
    if not manifests:
        errors.append(f"no manifest.json under {args.exchange}: did `wudao-gpu bench --exchange` run?")
    # The small benchmarks first: a time limit then cuts the largest.
    manifests.sort(key=lambda p: sum(os.path.getsize(f) for f in glob.glob(os.path.join(os.path.dirname(p), "*.f32"))))
    for path in manifests:
        folder = os.path.dirname(path)
        with open(path) as f:
            m = json.load(f)
        try:
            if m["kind"] == "moe":
                run_moe(folder, m, device, args, started, rows, errors, save)
            elif m["kind"] == "attention":
                run_attention(folder, m, device, args, rows, errors)
            else:
                errors.append(f"{path}: unknown kind {m['kind']}")
        except Exception as e:
            errors.append(f"{os.path.basename(folder)}: {type(e).__name__}: {e}")
            print(f"  {os.path.basename(folder)} FAILED: {e}", flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        save()
    save()
    for e in errors:
        print(f"  note: {e}", flush=True)
    print(f"torch peer: {len(rows)} rows, {len(errors)} notes, {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
