using System.Collections.Generic;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;
using static Wudao.Compiler.Codegen.BackwardFrame;
using Fragment = Wudao.Compiler.Codegen.NativeGradFragments.Fragment;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native fragments of the router's backward ops and of the sums the autodiff pass writes:
/// per token over <c>[t0, t1)</c>, a weight tile over rows <c>[i0, i1)</c> summed over every token,
/// or (the balance loss) the whole batch.
/// </summary>
internal static class NativeRouterGradFragments
{
    public static IEnumerable<KeyValuePair<string, Fragment>> All => new Dictionary<string, Fragment>
    {
        [Ops.Add] = new("the sum of two cotangent contributions", Add),
        [Ops.MatMulNt] = new("the cotangent times the router weight transposed: dX[t, m] = ⟨dL[t], W[m]⟩", MatMulNt),
        [Ops.MatMulTn] = new("rows [i0, i1) of the router weight's gradient, Σ over tokens of X[t, i]·dL[t], in token order", MatMulTn),
        [Ops.SoftmaxGrad] = new("p·(dp − ⟨p, dp⟩) per token", SoftmaxGrad),
        [Ops.RenormGrad] = new("(dg − ⟨dg, g⟩) / Σw per token, g = w / Σw", RenormGrad),
        [Ops.TopKGrad] = new("each chosen value's cotangent scattered back to its expert's column", TopKGrad),
        [Ops.SigmoidGrad] = new("s·(1 − s)·ds", (n, f, k) => Elementwise(n, f, $"{f.At(n.Operands[0], "i")} * (1f - {f.At(n.Operands[0], "i")}) * {f.At(n.Operands[1], "i")}")),
        [Ops.ExpertChoiceGrad] = new("a chosen (token, expert)'s gate passes its cotangent; an unchosen one gets 0", (n, f, k) => Elementwise(n, f, $"{f.At(n.Operands[1], "i")} >= 0 ? {f.At(n.Operands[0], "i")} : 0f")),
        [Ops.AppendSharedGrad] = new("the routed choices' gate cotangents (the shared experts' gates are constants)", AppendSharedGrad),
        [Ops.AuxLossGrad] = new("d probs[t, e] = d aux·α·E·f_e / T, f_e the share of tokens whose first choice is e (a count, no gradient)", AuxLossGrad),
        [Ops.ZLossGrad] = new("d lse[t] = d z·2·w·lse[t] / T", (n, f, k) => $@"for (int t = t0; t < t1; t++)
{{
    {f.At(n.Results[0], "t")} = {f.At(n.Operands[0], "0")} * 2f * {CSharpNames.Float(n.FloatAttr("weight"))} * {f.At(n.Operands[1], "t")} / tokens;
}}"),
        [Ops.LogSumExpGrad] = new("exp(logits − lse)·d lse per token", LogSumExpGrad),
    };

    /// <summary>An elementwise op over the tokens' rows; <paramref name="value"/> reads element <c>i</c>.</summary>
    private static string Elementwise(Node n, BackwardFrame f, string value)
    {
        var w = f.Width(n.Results[0]);
        return $@"for (long i = (long)t0 * {I(w)}; i < (long)t1 * {I(w)}; i++)
{{
    {f.At(n.Results[0], "i")} = {value};
}}";
    }

    private static string Add(Node n, BackwardFrame f, PlannedKernel k)
    {
        if (!f.TokenRows(n.Results[0]))
        {
            throw new KernelAssemblyException($"k{k.Index}: %{n.Name} = add of {f.Type(n.Results[0])}: the native backward adds token rows only");
        }

        return Elementwise(n, f, $"{f.At(n.Operands[0], "i")} + {f.At(n.Operands[1], "i")}");
    }

    private static string MatMulNt(Node n, BackwardFrame f, PlannedKernel k)
    {
        string dl = n.Operands[0], w = n.Operands[1], dx = n.Results[0];
        int m = f.Dim(w, 0), e = f.Dim(w, 1);
        return $@"for (int t = t0; t < t1; t++)
{{
    for (int i = 0; i < {I(m)}; i++)
    {{
        {f.At(dx, $"((long)t * {I(m)}) + i")} {NativeGradFragments.Set(f, dx)} Dot({f.RefAt(dl, $"(long)t * {I(e)}")}, {f.RefAt(w, $"(long)i * {I(e)}")}, {I(e)});
    }}
}}";
    }

    private static string MatMulTn(Node n, BackwardFrame f, PlannedKernel k) =>
        NativeGradFragments.GemmDw(f, n.Operands[0], n.Operands[1], n.Results[0], $"(long)i0 * {I(f.Width(n.Operands[1]))}");

    private static string SoftmaxGrad(Node n, BackwardFrame f, PlannedKernel k)
    {
        string p = n.Operands[0], dp = n.Operands[1], dl = n.Results[0];
        var w = f.Width(p);
        return $@"for (int t = t0; t < t1; t++)
{{
    long o = (long)t * {I(w)};
    float dot = Dot({f.RefAt(p, "o")}, {f.RefAt(dp, "o")}, {I(w)});
    for (int i = 0; i < {I(w)}; i++)
    {{
        {f.At(dl, "o + i")} = {f.At(p, "o + i")} * ({f.At(dp, "o + i")} - dot);
    }}
}}";
    }

    private static string RenormGrad(Node n, BackwardFrame f, PlannedKernel k)
    {
        string w = n.Operands[0], dg = n.Operands[1], dw = n.Results[0];
        var kk = f.Width(w);
        return $@"for (int t = t0; t < t1; t++)
{{
    long o = (long)t * {I(kk)};
    float sum = 0f;
    for (int j = 0; j < {I(kk)}; j++)
    {{
        sum += {f.At(w, "o + j")};
    }}

    float dot = 0f;
    for (int j = 0; j < {I(kk)}; j++)
    {{
        dot += {f.At(dg, "o + j")} * ({f.At(w, "o + j")} / sum);
    }}

    for (int j = 0; j < {I(kk)}; j++)
    {{
        {f.At(dw, "o + j")} = ({f.At(dg, "o + j")} - dot) / sum;
    }}
}}";
    }

    private static string TopKGrad(Node n, BackwardFrame f, PlannedKernel k)
    {
        string dv = n.Operands[0], index = n.Operands[1], dp = n.Results[0];
        int kk = f.Width(dv), e = n.IntAttr("experts");
        return $@"for (int t = t0; t < t1; t++)
{{
    Clear({f.RefAt(dp, $"(long)t * {I(e)}")}, {I(e)});
    for (int j = 0; j < {I(kk)}; j++)
    {{
        int c = (t * {I(kk)}) + j;
        int expert = {f.At(index, "c")};
        if (expert >= 0)
        {{
            {f.At(dp, $"((long)t * {I(e)}) + expert")} += {f.At(dv, "c")};
        }}
    }}
}}";
    }

    private static string AppendSharedGrad(Node n, BackwardFrame f, PlannedKernel k)
    {
        string dg = n.Operands[0], dr = n.Results[0];
        int all = f.Width(dg), routed = f.Width(dr);
        return $@"for (int t = t0; t < t1; t++)
{{
    for (int j = 0; j < {I(routed)}; j++)
    {{
        {f.At(dr, $"((long)t * {I(routed)}) + j")} = {f.At(dg, $"((long)t * {I(all)}) + j")};
    }}
}}";
    }

    private static string AuxLossGrad(Node n, BackwardFrame f, PlannedKernel k)
    {
        string daux = n.Operands[0], probs = n.Operands[1], experts = n.Operands[2], dp = n.Results[0];
        int e = f.Width(probs), kk = f.Width(experts);
        return $@"global::System.Span<int> first = stackalloc int[{I(e)}];
first.Clear();
for (int t = 0; t < tokens; t++)
{{
    int expert = {f.At(experts, $"(long)t * {I(kk)}")};
    if (expert >= 0)
    {{
        first[expert]++;
    }}
}}

for (int i = 0; i < {I(e)}; i++)
{{
    float d = {f.At(daux, "0")} * {CSharpNames.Float(n.FloatAttr("alpha"))} * {I(e)} * ((float)first[i] / tokens) / tokens;
    for (int t = 0; t < tokens; t++)
    {{
        {f.At(dp, $"((long)t * {I(e)}) + i")} = d;
    }}
}}";
    }

    private static string LogSumExpGrad(Node n, BackwardFrame f, PlannedKernel k)
    {
        string logits = n.Operands[0], lse = n.Operands[1], dl = n.Operands[2], d = n.Results[0];
        var e = f.Width(logits);
        return $@"for (int t = t0; t < t1; t++)
{{
    for (int i = 0; i < {I(e)}; i++)
    {{
        {f.At(d, $"((long)t * {I(e)}) + i")} = global::System.MathF.Exp({f.At(logits, $"((long)t * {I(e)}) + i")} - {f.At(lse, "t")}) * {f.At(dl, "t")};
    }}
}}";
    }
}
