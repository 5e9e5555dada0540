using System.Collections.Generic;
using System.Linq;
using System.Text;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The gates of every router (softmax top-k, noisy top-k, hash, DeepSeek, expert choice's scores): a static
/// method body for token <c>ti</c> assembled from its ops' fragments (<see cref="RouterOpFragments"/>),
/// with its scratch rows <c>s</c> as a view: the ILGPU kernel hands it thread-local memory, the
/// native schedule a slice of its worker's scratch, so both targets run the same code. Also the
/// top-k passes every gate shares.
/// </summary>
public static class RouterTokenFragments
{
    /// <summary>
    /// A per-token router: its bindings, body, scratch rows, the weights of its router GEMVs, and
    /// how a schedule that batches those GEMVs loads their row (<see cref="TokenFrame.Load(string, string, string, string, string)"/>
    /// for the row they read; null when they read the input as it is).
    /// </summary>
    public sealed record TokenGate(IReadOnlyList<KernelParam> Parameters, string Body, int ScratchRows, IReadOnlyList<string> LogitWeights, System.Func<string, string, string, string, string>? GemvLoad)
    {
        /// <summary>The buffers a training forward saves for backward (values the gate otherwise keeps in scratch or rewrites in place).</summary>
        public IReadOnlyList<KernelParam> Saves { get; init; } = new KernelParam[0];

        /// <summary>The body that also writes <see cref="Saves"/>, each right after the op that makes it; null when the gate saves nothing.</summary>
        public string? SavingBody { get; init; }
    }

    /// <summary>
    /// The top-k every gate runs (per token, k passes): each pass takes the largest value below the
    /// previous pick, ties to the lower expert, so every router and target breaks ties alike.
    /// Writes choice j's expert and gate (= <paramref name="gate"/>) to <paramref name="expertAt"/> and
    /// <paramref name="gateAt"/> (lvalues of j; ILGPU's <c>experts[co + j]</c> by default), sums the
    /// gates in <c>chosen</c>. A NaN row has no eligible expert: the choice gets expert −1 and gate
    /// NaN, so combine makes the token's output NaN (as libtorch would) instead of a silent zero.
    /// </summary>
    public static string TopKPasses(string k, string experts, string value, string gate, string expertAt = "experts[co + j]", string gateAt = "gates[co + j]") => $@"float prevV = float.PositiveInfinity;
int prevE = -1;
float chosen = 0f;
for (int j = 0; j < {k}; j++)
{{
    int best = -1;
    float bestV = 0f;
    for (int e = 0; e < {experts}; e++)
    {{
        float v = {value};
        bool eligible = v < prevV || (v == prevV && e > prevE);
        if (eligible && (best < 0 || v > bestV))
        {{
            best = e;
            bestV = v;
        }}
    }}

    float gv = best < 0 ? float.NaN : {gate};
    {expertAt} = best;
    {gateAt} = gv;
    chosen += gv;
    prevV = bestV;
    prevE = best;
}}
";

    /// <summary>
    /// A gate assembled from its ops' fragments in node order. An op with no fragment is a
    /// <see cref="KernelAssemblyException"/> naming it.
    /// </summary>
    public static TokenGate Read(PlannedKernel k, KernelPlan plan, IReadOnlyCollection<string>? saved = null)
    {
        var frame = TokenFrame.Of(k, plan);
        var body = new StringBuilder();
        if (frame.Dim > 0)
        {
            body.Append($"long xo = (long)ti * {frame.Dim};\n");
        }

        body.Append($"long co = (long)ti * {frame.Choices};\n");
        var saving = new StringBuilder(body.ToString());
        var saves = new List<KernelParam>();
        foreach (var n in k.Nodes)
        {
            var fragment = RouterOpFragments.Render(k, n, frame);
            body.Append('\n').Append(fragment);
            saving.Append('\n').Append(fragment);
            foreach (var r in n.Results.Where(r => saved != null && saved.Contains(r)))
            {
                var save = new KernelParam(BindingKind.Buffer, r, frame.IsInt(r) ? KernelReading.I : KernelReading.F, KernelReading.SaveBuffer(r));
                saves.Add(save);
                saving.Append($"// %{r} saved for backward.\n").Append(frame.Save(r, save.Name)).Append('\n');
            }
        }

        // Every gate takes the layer's args (training, seed, step, token base), so every gate kernel has one signature shape.
        var parameters = frame.Parameters.ToList();
        parameters.Add(new KernelParam(BindingKind.Args, "", KernelReading.Args, "args"));

        var gemvLoad = frame.GemvInput is { } row && frame.LoadsThrough(row)
            ? (token, d, args, element) => frame.Load(row, token, d, args, element)
            : (System.Func<string, string, string, string, string>?)null;
        return new TokenGate(parameters, body.ToString().TrimEnd(), frame.ScratchRows, frame.LogitWeights, gemvLoad)
        {
            Saves = saves,
            SavingBody = saves.Count == 0 ? null : saving.ToString().TrimEnd(),
        };
    }

    /// <summary>The shared method of a per-token gate, emitted once into the <c>Kernels</c> class.</summary>
    public static string Method(GateKernel gate)
    {
        var parameters = string.Join(", ", gate.Parameters.Select(p => $"{p.CsType} {p.Name}"));
        return $"/// <summary>k{gate.Index} {gate.Role} for one token; <paramref name=\"s\"/> is its scratch row ({gate.ScratchRows}·ER floats), holding the router logits already when <paramref name=\"ready\"/>.</summary>\n"
            + $"public static void {gate.TokenMethod}(int ti, {parameters}, {KernelReading.F} s, bool ready)\n{{\n{Indent(gate.TokenBody!)}\n}}"
            + (gate.SavingBody == null ? "" : $"\n\n/// <summary>k{gate.Index} {gate.Role} for one token of a training forward: also writes what the backward reads.</summary>\n"
                + $"public static void {gate.TokenMethod}Saving(int ti, {parameters}, {string.Join(", ", gate.Saves.Select(p => $"{p.CsType} {p.Name}"))}, {KernelReading.F} s, bool ready)\n{{\n{Indent(gate.SavingBody)}\n}}");
    }

    internal static string Indent(string text) => string.Join("\n", text.Split('\n').Select(l => l.Length == 0 ? l : "    " + l));
}
