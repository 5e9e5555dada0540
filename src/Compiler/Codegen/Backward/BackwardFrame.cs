using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Passes;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// Where each value of a backward graph lives in the native backward kernels, read from the
/// graph's types: weights and their gradients are host arrays (<c>float[]</c>, the layer's
/// weights as it runs them and the gradients it accumulates), scalar seeds are fields, and every
/// other value is a device view. Every fragment addresses values through this frame, so no
/// fragment knows how a value is bound.
/// </summary>
internal sealed class BackwardFrame
{
    private readonly Dictionary<string, TensorType> _types;
    private readonly HashSet<string> _weights;
    private readonly HashSet<string> _weightGradients;

    public BackwardFrame(BackwardGraph backward)
    {
        Backward = backward;
        var g = backward.Graph;
        _types = g.ValueTypes().Where(t => t.Value != null).ToDictionary(t => t.Key, t => t.Value!);
        _weights = new HashSet<string>(g.Nodes.Where(n => n.Op == Ops.Param).Select(n => n.Results[0]));
        var forwardWeights = new HashSet<string>(backward.Forward.Nodes.Where(n => n.Op == Ops.Param).Select(n => n.Results[0]));
        _weightGradients = new HashSet<string>(backward.Gradients.Where(kv => forwardWeights.Contains(kv.Key)).Select(kv => kv.Value));
        Offsets = g.Nodes.Where(n => n.Op is Ops.GroupedMatMulDx or Ops.GroupedMatMulDw or Ops.BiasGrad or Ops.DispatchGrad or Ops.CombineGradRows)
            .Select(n => n.Operands[n.Operands.Count - 1]).FirstOrDefault();
        Experts = Offsets == null ? 0 : _types[Offsets].Shape[0].Value - 1;
    }

    public BackwardGraph Backward { get; }

    /// <summary>The field holding a weight's per-expert transposes, packed in GEMM panels (what dX = dY·Wᵀ streams).</summary>
    public static string Transposed(string weight) => "pt_" + weight;

    /// <summary>The expert weights whose transposes the backward's GEMMs read.</summary>
    public IEnumerable<string> TransposedWeights => Backward.Graph.Nodes.Where(n => n.Op == Ops.GroupedMatMulDx).Select(n => n.Operands[1]).Distinct();

    /// <summary>The expert row offsets [E + 1] the grouped ops read; null for a graph with no experts.</summary>
    public string? Offsets { get; }

    public int Experts { get; }

    public TensorType Type(string value) => _types[value];

    public bool IsWeight(string value) => _weights.Contains(value);

    /// <summary>A weight's gradient: accumulated into the layer's gradient array (<c>+=</c>), so micro-batches add up.</summary>
    public bool Accumulates(string value) => _weightGradients.Contains(value);

    public bool IsScalar(string value) => _types[value].Rank == 0;

    public bool IsInt(string value) => _types[value].DType == DType.I32;

    /// <summary>The field a value is bound to.</summary>
    public string Field(string value) =>
        IsWeight(value) ? "w_" + value : Accumulates(value) ? "g_" + value : IsScalar(value) ? "s_" + value : "v_" + value;

    /// <summary>The C# type of a value's field.</summary>
    public string FieldType(string value) =>
        IsWeight(value) || Accumulates(value) ? "float[]" : IsScalar(value) ? "float" : IsInt(value) ? KernelReading.I : KernelReading.F;

    /// <summary>The local <c>ref</c> a kernel method declares for a value, and its declaration.</summary>
    public string Ref(string value) => "r_" + value;

    public string Declare(string value)
    {
        var elem = IsInt(value) ? "int" : "float";
        var source = IsWeight(value) || Accumulates(value)
            ? $"global::System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(this.{Field(value)})"
            : $"global::Wudao.CpuMemory.Ref(this.{Field(value)})";
        return IsScalar(value) ? $"float {Ref(value)} = this.{Field(value)};" : $"ref {elem} {Ref(value)} = ref {source};";
    }

    /// <summary>Element <paramref name="index"/> of a value, as an lvalue (a scalar seed is its value).</summary>
    public string At(string value, string index) => IsScalar(value) ? Ref(value) : $"At(ref {Ref(value)}, {index})";

    /// <summary>A ref to element <paramref name="index"/>, for the helpers that take rows by ref.</summary>
    public string RefAt(string value, string index) => $"ref At(ref {Ref(value)}, {index})";

    /// <summary>The last dimension of a value (a row's width), a compile-time constant.</summary>
    public int Width(string value) => Constant(_types[value].Shape[_types[value].Rank - 1], value);

    public int Dim(string value, int axis) => Constant(_types[value].Shape[axis], value);

    /// <summary>Whether the value's rows are tokens (first dimension T).</summary>
    public bool TokenRows(string value) => _types[value].Rank > 0 && _types[value].Shape[0].Symbol == "T";

    /// <summary>Element count of a value at launch: T is the call's tokens, S its kept rows.</summary>
    public string Length(string value) => LauncherEmitter.Elements(_types[value], "(long)tokens", "(long)rowBound");

    private static int Constant(Ir.Dim d, string value) => d.IsSymbolic
        ? throw new KernelAssemblyException($"%{value}: dimension {d.Symbol} where the backward kernel needs a constant")
        : d.Value;

    /// <summary>The offset of expert <paramref name="e"/>'s first row.</summary>
    public string Offset(string e) => At(Offsets ?? throw new KernelAssemblyException("the backward reads expert rows but has no offsets"), e);

    public static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
}
