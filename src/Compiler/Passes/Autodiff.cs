using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Passes;

/// <summary>
/// Reverse-mode autodiff on the IR: from a typed forward graph, the backward graph that maps the
/// cotangents of its float outputs (the seeds, <c>%d_out</c>, <c>%d_aux</c>) to the gradients of
/// its float inputs and weights. Each op contributes through its own <see cref="GradientRule"/>;
/// this pass only walks the graph in reverse, sums contributions in a fixed order, decides what
/// the backward graph saves from the forward and what it recomputes, and drops dead work. The
/// backward is then fused and planned by the same passes as any forward graph.
/// </summary>
public static class Autodiff
{
    public static BackwardGraph Run(Graph forward, RecomputePolicy? policy = null)
    {
        policy ??= RecomputePolicy.Default;
        Verifier.Verify(forward, requireTypes: true);
        var types = forward.ValueTypes().ToDictionary(kv => kv.Key, kv => kv.Value!);
        var learns = Learning(forward, types);
        var seeds = forward.Outputs.Where(o => learns.Contains(o))
            .Select(o => new KeyValuePair<string, TensorType>("d_" + o, types[o])).ToList();

        var walk = new Walk(types, learns);
        foreach (var seed in seeds)
        {
            walk.Cotangents[seed.Key.Substring(2)] = seed.Key;
            walk.Defined.Add(seed.Key);
        }

        foreach (var node in forward.Nodes.Reverse())
        {
            if (node.Op == Ops.Param || !node.Results.Any(walk.Cotangents.ContainsKey) || !node.Operands.Any(learns.Contains))
            {
                continue;
            }

            var rule = Ops.Get(node.Op).Gradient
                ?? throw new CompileException($"%{node.Name} = {node.Op}: no gradient rule is written for '{node.Op}' yet, so the graph cannot be differentiated through it");
            walk.Node = node;
            rule(node, walk);
        }

        var producers = forward.Producers();
        var differentiable = forward.Inputs.Select(i => i.Key)
            .Concat(forward.Nodes.Where(n => n.Op == Ops.Param).Select(n => n.Results[0]))
            .Where(learns.Contains).ToList();
        var gradients = differentiable.Where(walk.Cotangents.ContainsKey).ToDictionary(v => v, v => walk.Cotangents[v]);
        var outputs = differentiable.Where(gradients.ContainsKey).Select(v => gradients[v]).Distinct().ToList();
        var live = Live(walk.Nodes, outputs);

        // What the live backward nodes read from the forward: weights are bound again, activations
        // the policy names are recomputed from what they read, the rest is saved.
        var needed = new SortedSet<string>(live.SelectMany(n => n.Operands).Where(o => !walk.Defined.Contains(o)), System.StringComparer.Ordinal);
        var recomputed = new List<Node>();
        var pending = new Stack<string>(needed);
        while (pending.Count > 0)
        {
            var v = pending.Pop();
            if (producers.TryGetValue(v, out var p) && p.Op != Ops.Param && policy.Recompute(p) && !recomputed.Contains(p))
            {
                recomputed.Add(p);
                foreach (var o in p.Operands.Where(needed.Add))
                {
                    pending.Push(o);
                }
            }
        }

        var position = Positions(forward);
        recomputed.Sort((a, b) => position[a.Results[0]].CompareTo(position[b.Results[0]]));
        var recomputedValues = new HashSet<string>(recomputed.SelectMany(n => n.Results));
        var parameters = forward.Nodes.Where(n => n.Op == Ops.Param && needed.Contains(n.Results[0])).ToList();
        var saved = needed.Where(v => !recomputedValues.Contains(v) && !parameters.Any(p => p.Results[0] == v))
            .OrderBy(v => position[v]).Select(v => new KeyValuePair<string, TensorType>(v, types[v])).ToList();

        var graph = new Graph(forward.Name + "_backward", seeds.Concat(saved).ToList(), Order(parameters, recomputed, live), outputs);
        ShapeInference.Run(graph);
        Verifier.Verify(graph, requireTypes: true);

        var none = forward.Nodes.Where(n => n.Op == Ops.Param && !gradients.ContainsKey(n.Results[0])).Select(n => n.Results[0]).ToList();
        var (kernels, decisions) = FusionPass.Run(graph);
        var plan = KernelPlanner.Run(graph, kernels, decisions);
        return new BackwardGraph(graph, plan, seeds.Select(s => s.Key).ToList(), saved.Select(s => s.Key).ToList(), recomputed.Select(n => (n, policy.Reason(n, types))).ToList(), gradients, none, forward);
    }

    /// <summary>
    /// The train plan a layer's or model's <c>Info.TrainPlanText</c> shows: the backward of
    /// <paramref name="forward"/> (types inferred where missing), or why there is none.
    /// </summary>
    public static string Describe(Graph forward)
    {
        TryRun(forward, out var text);
        return text;
    }

    /// <summary>The backward, or null; <paramref name="text"/> is its train plan, or why it cannot be derived.</summary>
    public static BackwardGraph? TryRun(Graph forward, out string text)
    {
        try
        {
            ShapeInference.Run(forward);
            var backward = Run(forward);
            text = backward.ToString();
            return backward;
        }
        catch (CompileException e)
        {
            text = $"not differentiable yet: {e.Message}\n";
        }
        catch (System.Exception e) when (e is System.InvalidOperationException or System.ArgumentException or KeyNotFoundException)
        {
            // A fault in deriving the backward must not cost the forward its build: it is reported here instead.
            text = $"the backward could not be derived ({e.GetType().Name}: {e.Message}); please report it\n";
        }

        return null;
    }

    /// <summary>Values the loss can differentiate: float inputs, weights, and float results of anything they reach.</summary>
    private static HashSet<string> Learning(Graph forward, IReadOnlyDictionary<string, TensorType> types)
    {
        var learns = new HashSet<string>(forward.Inputs.Where(i => i.Value.DType == DType.F32).Select(i => i.Key));
        foreach (var node in forward.Nodes)
        {
            if (node.Op == Ops.Param || node.Operands.Any(learns.Contains))
            {
                learns.UnionWith(node.Results.Where(r => types[r].DType == DType.F32));
            }
        }

        return learns;
    }

    /// <summary>The nodes some output depends on, in emission order.</summary>
    private static List<Node> Live(List<Node> nodes, IEnumerable<string> outputs)
    {
        var wanted = new HashSet<string>(outputs);
        var keep = new bool[nodes.Count];
        for (var i = nodes.Count - 1; i >= 0; i--)
        {
            if (nodes[i].Results.Any(wanted.Contains))
            {
                keep[i] = true;
                wanted.UnionWith(nodes[i].Operands);
            }
        }

        return nodes.Where((_, i) => keep[i]).ToList();
    }

    /// <summary>
    /// Weights first, then the backward nodes, each recomputed node placed just before its first
    /// reader: the fusion pass then sees it next to that reader (a GEMM recomputes it as it loads).
    /// </summary>
    private static List<Node> Order(List<Node> parameters, List<Node> recomputed, List<Node> live)
    {
        var nodes = parameters.Select(Copy).ToList();
        var unplaced = recomputed.ToDictionary(n => n.Results[0]);

        void Place(string value)
        {
            if (unplaced.TryGetValue(value, out var r))
            {
                unplaced.Remove(value);
                foreach (var o in r.Operands)
                {
                    Place(o);
                }

                nodes.Add(Copy(r));
            }
        }

        foreach (var n in live)
        {
            foreach (var o in n.Operands)
            {
                Place(o);
            }

            nodes.Add(n);
        }

        return nodes;
    }

    private static Node Copy(Node n) => new(n.Op, n.Results, n.Operands, n.Attributes, n.Types);

    /// <summary>Each forward value's place in program order: inputs first (negative), then each node's results at its index.</summary>
    private static Dictionary<string, int> Positions(Graph g)
    {
        var position = g.Inputs.Select((input, i) => (input.Key, i - g.Inputs.Count)).ToDictionary(p => p.Key, p => p.Item2);
        for (var i = 0; i < g.Nodes.Count; i++)
        {
            foreach (var r in g.Nodes[i].Results)
            {
                position[r] = i;
            }
        }

        return position;
    }

    /// <summary>The builder the rules write through: cotangents by value, contributions summed in the order written.</summary>
    private sealed class Walk : IGradientBuilder
    {
        private readonly IReadOnlyDictionary<string, TensorType> _types;
        private readonly HashSet<string> _learns;
        private readonly Dictionary<string, int> _contributions = new();
        private readonly Dictionary<string, int> _sums = new();

        public Walk(IReadOnlyDictionary<string, TensorType> types, HashSet<string> learns)
        {
            _types = types;
            _learns = learns;
        }

        public Dictionary<string, string> Cotangents { get; } = new();

        /// <summary>Every value the backward graph defines (seeds and emitted results).</summary>
        public HashSet<string> Defined { get; } = new();

        public List<Node> Nodes { get; } = new();

        public Node Node { get; set; } = null!;

        public string? Cotangent(int result) => Cotangents.TryGetValue(Node.Results[result], out var d) ? d : null;

        public TensorType Type(string value) => _types[value];

        public string? Accumulate(int operand, string op, IReadOnlyList<string> operands, params (string Key, object Value)[] attributes)
        {
            var v = Node.Operands[operand];
            if (!_learns.Contains(v))
            {
                return null;
            }

            var name = Fresh(v);
            Emit(new Node(op, new[] { name }, operands.ToList(), Attributes(attributes)));
            Sum(v, name);
            return name;
        }

        public string Temp(string hint, string op, IReadOnlyList<string> operands, params (string Key, object Value)[] attributes)
        {
            var name = Unused(Node.Name, $"{Node.Name}_{hint}");
            Emit(new Node(op, new[] { name }, operands.ToList(), Attributes(attributes)));
            return name;
        }

        private static List<KeyValuePair<string, string>> Attributes((string Key, object Value)[] attributes) =>
            attributes.Select(a => new KeyValuePair<string, string>(a.Key, System.Convert.ToString(a.Value, CultureInfo.InvariantCulture)!)).ToList();

        public void Pass(int operand, string cotangent)
        {
            var v = Node.Operands[operand];
            if (_learns.Contains(v))
            {
                Sum(v, cotangent);
            }
        }

        private void Sum(string value, string contribution)
        {
            if (!Cotangents.TryGetValue(value, out var existing))
            {
                Cotangents[value] = contribution;
                return;
            }

            _sums.TryGetValue(value, out var terms);
            _sums[value] = terms = terms == 0 ? 2 : terms + 1;
            var sum = Unused(value, $"d_{value}_sum{terms}");
            Emit(new Node(Ops.Add, new[] { sum }, new[] { existing, contribution }));
            Cotangents[value] = sum;
        }

        private string Fresh(string value)
        {
            _contributions.TryGetValue(value, out var count);
            _contributions[value] = ++count;
            return Unused(value, count == 1 ? "d_" + value : $"d_{value}_{count}");
        }

        private string Unused(string value, string name) => _types.ContainsKey(name) || Defined.Contains(name)
            ? throw new CompileException($"autodiff: the backward of %{value} names a value %{name}, which the forward graph already uses; rename that value")
            : name;

        private void Emit(Node node)
        {
            Defined.Add(node.Results[0]);
            Nodes.Add(node);
        }
    }
}
