using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Ir;

/// <summary>
/// The op registry: every op's name, and its definition (<see cref="OpDef"/>) from the family tables —
/// routers, routes, experts (with every activation of <see cref="Activations"/>), models.
/// </summary>
public static class Ops
{
    public const string Param = "param";
    public const string MatMul = "matmul";
    public const string Softmax = "softmax";
    public const string TopK = "topk";
    public const string Renorm = "renorm";
    public const string SecondDrop = "second_drop";
    public const string Capacity = "capacity";
    public const string Scan = "scan";
    public const string AuxLoss = "aux_loss";
    public const string Dispatch = "dispatch";
    public const string GroupedMatMul = "grouped_matmul";
    public const string Bias = "bias";
    public const string Gelu = "gelu";
    public const string Relu = "relu";
    public const string Silu = "silu";
    public const string SwiGlu = "swiglu";
    public const string GeGlu = "geglu";
    public const string Combine = "combine";
    public const string Jitter = "jitter";
    public const string LogSumExp = "logsumexp";
    public const string ZLoss = "z_loss";
    public const string Noisy = "noisy";
    public const string LoadProb = "load_prob";
    public const string NoisyLoss = "noisy_loss";
    public const string ExpertChoice = "expert_choice";
    public const string HashRoute = "hash_route";
    public const string Sigmoid = "sigmoid";
    public const string TopKBiased = "topk_biased";
    public const string AppendShared = "append_shared";
    public const string Embed = "embed";
    public const string RmsNorm = "rms_norm";
    public const string LayerNorm = "layer_norm";
    public const string AddRmsNorm = "add_rms_norm";
    public const string AddLayerNorm = "add_layer_norm";
    public const string Linear = "linear";
    public const string Attention = "attention";
    public const string Moe = "moe";
    public const string DenseFfn = "dense_ffn";
    public const string QkNorm = "qk_norm";
    public const string NonFinite = "nonfinite";
    public const string Sample = "sample";
    public const string CrossEntropy = "cross_entropy";
    public const string AttentionTrain = "attention_train";

    // Backward ops: each sits next to the forward op whose gradient rule emits it.
    public const string Add = "add";
    public const string MatMulNt = "matmul_nt";
    public const string MatMulTn = "matmul_tn";
    public const string SoftmaxGrad = "softmax_grad";
    public const string TopKGrad = "topk_grad";
    public const string RenormGrad = "renorm_grad";
    public const string SigmoidGrad = "sigmoid_grad";
    public const string AppendSharedGrad = "append_shared_grad";
    public const string AuxLossGrad = "aux_loss_grad";
    public const string LogSumExpGrad = "logsumexp_grad";
    public const string ZLossGrad = "z_loss_grad";
    public const string JitterGrad = "jitter_grad";
    public const string NoisyGrad = "noisy_grad";
    public const string LoadProbGrad = "load_prob_grad";
    public const string ImportanceLossGrad = "importance_loss_grad";
    public const string LoadLossGrad = "load_loss_grad";
    public const string ExpertChoiceGrad = "expert_choice_grad";
    public const string EmbedGrad = "embed_grad";
    public const string RmsNormGrad = "rms_norm_grad";
    public const string RmsNormGradWeight = "rms_norm_grad_weight";
    public const string LayerNormGrad = "layer_norm_grad";
    public const string LayerNormGradWeight = "layer_norm_grad_weight";
    public const string SumRows = "sum_rows";
    public const string QkNormGrad = "qk_norm_grad";
    public const string QkNormGradWeight = "qk_norm_grad_weight";
    public const string AttentionGrad = "attention_grad";
    public const string AttentionLse = "attention_lse";
    public const string MoeGrad = "moe_grad";
    public const string DenseUp = "dense_up";
    public const string CrossEntropyGrad = "cross_entropy_grad";
    public const string LinearDx = "linear_dx";
    public const string DispatchGrad = "dispatch_grad";
    public const string GroupedMatMulDx = "grouped_matmul_dx";
    public const string GroupedMatMulDw = "grouped_matmul_dw";
    public const string BiasGrad = "bias_grad";
    public const string CombineGradRows = "combine_grad_rows";
    public const string CombineGradGates = "combine_grad_gates";

    private static readonly Dictionary<string, OpDef> Table =
        new[] { new OpDef(Param, 0, 1, IterationSpace.None, new[] { AttrDef.Text("name"), AttrDef.Int("fan_in") }, (n, _) => throw new CompileException($"%{n.Name} = param needs an explicit type"), OpRole.Param) }
            .Concat(RouterOpDefs.All).Concat(RouteOpDefs.All).Concat(ExpertOpDefs.All).Concat(ModelOpDefs.All).Concat(ModelGradOpDefs.All).Concat(AutodiffOpDefs.All)
            .ToDictionary(o => o.Name);

    public static IEnumerable<string> Names => Table.Keys;

    /// <summary>Whether <paramref name="op"/> only appears in backward graphs (a gradient rule emits it).</summary>
    public static bool IsBackward(string op) => Backward.Contains(op);

    private static readonly HashSet<string> Backward = new()
    {
        Add, MatMulNt, MatMulTn, SoftmaxGrad, TopKGrad, RenormGrad, SigmoidGrad, AppendSharedGrad, AuxLossGrad, LogSumExpGrad, ZLossGrad,
        JitterGrad, NoisyGrad, LoadProbGrad, ImportanceLossGrad, LoadLossGrad, ExpertChoiceGrad, EmbedGrad, RmsNormGrad, RmsNormGradWeight,
        LayerNormGrad, LayerNormGradWeight, SumRows, QkNormGrad, QkNormGradWeight, AttentionGrad, AttentionLse, MoeGrad, DenseUp, CrossEntropyGrad, LinearDx,
        DispatchGrad, GroupedMatMulDx, GroupedMatMulDw, BiasGrad, CombineGradRows, CombineGradGates,
    };


    public static bool TryGet(string name, out OpDef info) => Table.TryGetValue(name, out info!);

    public static OpDef Get(string name) =>
        Table.TryGetValue(name, out var info) ? info : throw new CompileException($"unknown op '{name}'");
}
