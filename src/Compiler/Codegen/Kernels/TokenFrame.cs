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
    private readonly HashSet<string> _choices = new();

    /// <summary>Values applied as the token row is loaded (jitter), by the node that makes them.</summary>
    private readonly Dictionary<string, Node> _onLoad = new();

    private static readonly string[] BufferOrder = { "probs", "experts", "gates", "lse", "pload" };

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

    /// <summary>The row the router GEMVs read (the token row, or an on-load value of it); null without a GEMV.</summary>
    public string? GemvInput { get; private set; }

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
            if (f.GemvInput != null && f.GemvInput != m.Operands[0])
            {
                throw new KernelAssemblyException($"k{k.Index}: the router GEMVs read %{f.GemvInput} and %{m.Operands[0]}; a schedule batches one row per token");
            }

            f.GemvInput = m.Operands[0];
            f.Row(k, m.Results[0], buffered);
            f.LogitWeights.Add(f._names[m.Operands[1]]);
            f.Experts = types[m.Results[0]].Shape[1].Value;
        }

        foreach (var n in k.Nodes)
        {
            var op = RouterOpFragments.Get(k, n);
            var place = op.Results == RouterOpFragments.Place.AsOperand
                ? (f.IsChoice(n.Operands[0]) ? RouterOpFragments.Place.Choices : RouterOpFragments.Place.Row)
                : op.Results;
            foreach (var r in n.Results.Where(r => !f._rows.ContainsKey(r)))
            {
                if (place == RouterOpFragments.Place.OnLoad)
                {
                    f._onLoad[r] = buffered.Contains(r)
                        ? throw new KernelAssemblyException($"k{k.Index}: %{r} = {n.Op} is read by another kernel, but the per-token gate applies it only as the row is loaded")
                        : n;
                }
                else if (place == RouterOpFragments.Place.Choices)
                {
                    f._names[r] = types[r].DType == DType.I32 ? "experts" : "gates";
                    f._choices.Add(r);
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
        // Buffers in the gate stage's order, whichever op writes them.
        foreach (var r in k.Nodes.SelectMany(n => n.Results).Where(buffered.Contains).OrderBy(r => System.Array.IndexOf(BufferOrder, f._names[r])))
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
        // A value per token ([T], the logsumexp) takes a row of its own too.
        var width = _types[value].Shape.Count == 1 ? Experts : _types[value].Shape[1].Value;
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

    /// <summary>Element <paramref name="e"/> of a router row (scratch, buffer or input), as an lvalue; a value per token [T] is its element 0.</summary>
    public string Row(string value, string e) => _rows.TryGetValue(value, out var r)
        ? (r == 0 ? $"s[{e}]" : $"s[{r * Experts} + {e}]")
        : _types[value].Shape.Count == 1 ? $"{_names[value]}[ti]" : $"{_names[value]}[((long)ti * {_types[value].Shape[1].Value}) + {e}]";

    /// <summary>Element <paramref name="d"/> of this token's row <paramref name="value"/>: the input as it is, or through the on-load ops that make it.</summary>
    public string Load(string value, string d) => Load(value, "ti", d, "args", $"{_names[Input(value)]}[xo + {d}]");

    /// <summary>
    /// The same load for a schedule's own reading of the row: <paramref name="element"/> reads the
    /// input's element, <paramref name="token"/> and <paramref name="args"/> are its names for the
    /// token's index and the layer's args.
    /// </summary>
    public string Load(string value, string token, string d, string args, string element) => _onLoad.TryGetValue(value, out var n)
        ? RouterOpFragments.Get(n).Load!(n, this, Load(n.Operands[0], token, d, args, element), token, d, args)
        : element;

    /// <summary>Whether the row has on-load ops between it and the input.</summary>
    public bool LoadsThrough(string value) => _onLoad.ContainsKey(value);

    private string Input(string value) => _onLoad.TryGetValue(value, out var n) ? Input(n.Operands[0]) : value;

    /// <summary>The value is a choice value [T, k], in the <c>gates</c> or <c>experts</c> buffer.</summary>
    public bool IsChoice(string value) => _choices.Contains(value);

    /// <summary>Choice <paramref name="j"/> of a [T, k] value, as an lvalue in its buffer.</summary>
    public string Choice(string value, string j) => $"{_names[value]}[co + {j}]";

    public bool IsInt(string value) => _types[value].DType == DType.I32;

    /// <summary>Copies this token's <paramref name="value"/> (a router row, choice values, or a value per token) to the buffer <paramref name="buffer"/>.</summary>
    public string Save(string value, string buffer)
    {
        if (_types[value].Shape.Count == 1)
        {
            return $"{buffer}[ti] = {Row(value, "0")};";
        }

        var width = Width(value);
        var element = IsChoice(value) ? Choice(value, "j") : Row(value, "j");
        return $"for (int j = 0; j < {width}; j++)\n{{\n    {buffer}[((long)ti * {width}) + j] = {element};\n}}";
    }

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
            foreach (var r in k.Nodes[i].Results.Where(_choices.Contains))
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
