using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// Where each value of a per-token gate kernel lives for token <c>ti</c>, read from the kernel's
/// types: router-width rows [T, E] that no other kernel reads go to scratch rows (the router
/// GEMVs' first, in order, so a schedule can pass them ready), the choice values [T, k] to the
/// kernel's <c>gates</c>/<c>experts</c> buffers (each op of the chain rewrites them in place), and
/// what other kernels read to buffers. Every op fragment reads and writes through this frame.
/// </summary>
internal sealed class TokenFrame
{
    private readonly Dictionary<string, int> _rows = new();
    private readonly Dictionary<string, string> _names = new();
    private readonly Dictionary<string, TensorType> _types;

    private TokenFrame(Dictionary<string, TensorType> types) => _types = types;

    /// <summary>Width of the router rows (the routed experts).</summary>
    public int Experts { get; private set; }

    /// <summary>Width of the choice buffers (routed plus shared choices); <c>co = ti · Choices</c>.</summary>
    public int Choices { get; private set; }

    /// <summary>Width of the token rows the router GEMVs read.</summary>
    public int Dim { get; private set; }

    public int ScratchRows => _rows.Count;

    public List<KernelParam> Parameters { get; } = new();

    /// <summary>The router GEMVs' weight parameters, in scratch-row order.</summary>
    public List<string> LogitWeights { get; } = new();

    public static TokenFrame Of(PlannedKernel k, KernelPlan plan)
    {
        var types = plan.Graph.ValueTypes().Where(t => t.Value != null).ToDictionary(t => t.Key, t => t.Value!);
        var f = new TokenFrame(types);
        var produced = new HashSet<string>(k.Nodes.SelectMany(n => n.Results));
        var buffered = new HashSet<string>(k.Buffered(plan));

        // Operands from outside: the token rows or ids (inputs) and the weights.
        foreach (var v in k.Nodes.SelectMany(n => n.Operands).Where(v => !produced.Contains(v)).Distinct())
        {
            var weight = plan.Weights.Any(w => w.Value == v);
            var type = types[v];
            var name = weight ? "w_" + v : type.DType == DType.I32 ? "ids" : "x";
            if (f._names.ContainsValue(name))
            {
                throw new KernelAssemblyException($"k{k.Index}: the per-token gate reads one token row and one id per token; %{v} would be a second {name}");
            }

            f._names[v] = name;
            f.Parameters.Add(new KernelParam(weight ? BindingKind.Weight : KernelReading.InputOrBuffer(plan, v), v, Cs(type), name));
            f.Dim = name == "x" ? type.Shape[1].Value : f.Dim;
        }

        // The router GEMVs' rows first, so a schedule can compute them ahead and pass them ready.
        foreach (var m in k.Nodes.Where(n => n.Op == Ops.MatMul))
        {
            f.Row(k, m.Results[0], buffered);
            f.LogitWeights.Add(f._names[m.Operands[1]]);
            f.Experts = types[m.Results[0]].Shape[1].Value;
        }

        foreach (var n in k.Nodes)
        {
            var op = RouterOpFragments.Get(k, n);
            foreach (var r in n.Results.Where(r => !f._rows.ContainsKey(r)))
            {
                if (op.Choices)
                {
                    f._names[r] = types[r].DType == DType.I32 ? "experts" : "gates";
                    f.Choices = System.Math.Max(f.Choices, types[r].Shape[1].Value);
                }
                else if (buffered.Contains(r))
                {
                    f._names[r] = op.Buffer ?? throw new KernelAssemblyException($"k{k.Index}: %{r} = {n.Op} is read by another kernel, and the per-token gate has no buffer for it");
                }
                else
                {
                    f.Row(k, r, buffered);
                }
            }
        }

        f.CheckInPlace(k);
        foreach (var r in k.Nodes.SelectMany(n => n.Results).Where(buffered.Contains))
        {
            if (f.Parameters.FirstOrDefault(p => p.Name == f._names[r]) is { } other)
            {
                throw new KernelAssemblyException($"k{k.Index}: %{other.Value} and %{r} both leave the per-token gate, and it has one {f._names[r]} buffer");
            }

            f.Parameters.Add(new KernelParam(BindingKind.Buffer, r, Cs(types[r]), f._names[r]));
        }

        return f;
    }

    /// <summary>Gives a router-width value the next scratch row; one another kernel reads would be lost there, so it is refused.</summary>
    private void Row(PlannedKernel k, string value, HashSet<string> buffered)
    {
        var width = _types[value].Shape[1].Value;
        if (buffered.Contains(value))
        {
            throw new KernelAssemblyException($"k{k.Index}: %{value} is read by another kernel, but the per-token gate keeps it in a scratch row");
        }

        if (Experts != 0 && width != Experts)
        {
            throw new KernelAssemblyException($"k{k.Index}: %{value} is {width} wide; the per-token gate's scratch rows are {Experts}");
        }

        _rows[value] = _rows.Count;
    }

    /// <summary>The value lives in a scratch row of this token.</summary>
    public bool IsRow(string value) => _rows.ContainsKey(value);

    /// <summary>Element <paramref name="e"/> of a router row (scratch, buffer or input), as an lvalue.</summary>
    public string Row(string value, string e) => _rows.TryGetValue(value, out var r)
        ? (r == 0 ? $"s[{e}]" : $"s[{r * Experts} + {e}]")
        : $"{_names[value]}[((long)ti * {_types[value].Shape[1].Value}) + {e}]";

    /// <summary>Choice <paramref name="j"/> of a [T, k] value, as an lvalue in its buffer.</summary>
    public string Choice(string value, string j) => $"{_names[value]}[co + {j}]";

    private static string Cs(TensorType t) => t.DType == DType.I32 ? KernelReading.I : KernelReading.F;

    /// <summary>The parameter an outside operand is bound to.</summary>
    public string Name(string value) => _names[value];

    public int Width(string value) => _types[value].Shape[_types[value].Shape.Count - 1].Value;

    /// <summary>
    /// The choice values share two buffers, so a value must be dead before the next op of the
    /// chain rewrites its buffer: every reader comes no later than that writer.
    /// </summary>
    private void CheckInPlace(PlannedKernel k)
    {
        for (var i = 0; i < k.Nodes.Count; i++)
        {
            foreach (var r in k.Nodes[i].Results.Where(r => !_rows.ContainsKey(r) && _names[r] is "gates" or "experts"))
            {
                var next = k.Nodes.Skip(i + 1).FirstOrDefault(n => n.Results.Any(o => _names.TryGetValue(o, out var name) && name == _names[r]));
                var lastRead = k.Nodes.LastOrDefault(n => n.Operands.Contains(r));
                if (next != null && lastRead != null && k.Nodes.IndexOf(lastRead) > k.Nodes.IndexOf(next))
                {
                    throw new KernelAssemblyException($"k{k.Index}: %{r} is read by %{lastRead.Name} = {lastRead.Op} after %{next.Name} = {next.Op} rewrote the {_names[r]} buffer it lives in");
                }
            }
        }
    }
}
