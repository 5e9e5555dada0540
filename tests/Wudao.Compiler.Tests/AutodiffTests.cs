using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Spec;
using Xunit;
using Xunit.Abstractions;

namespace Wudao.Compiler.Tests;

public class AutodiffTests
{
    private readonly ITestOutputHelper _out;

    public AutodiffTests(ITestOutputHelper output) => _out = output;

    [Fact]
    public void Print_all()
    {
        foreach (var r in System.Enum.GetValues<RouterKind>())
        {
            var g = MoeLowering.Lower(TestSpecs.Make(r, topK: r == RouterKind.ExpertChoice ? 0 : null));
            ShapeInference.Run(g);
            string text;
            try { text = Autodiff.Run(g).ToString(); } catch (CompileException e) { text = "REFUSED " + e.Message; }
            System.IO.File.WriteAllText($"/tmp/ad/{r}.txt", IrPrinter.Print(g) + "\n" + text);
        }
    }

    [Fact]
    public void Print_gshard()
    {
        var g = MoeLowering.Lower(TestSpecs.Make(RouterKind.GShard));
        ShapeInference.Run(g);
        var b = Autodiff.Run(g);
        System.IO.File.WriteAllText("/tmp/ad/gshard.txt", b.ToString());
        var (kernels, decisions) = FusionPass.Run(b.Graph);
        var plan = KernelPlanner.Run(b.Graph, kernels, decisions);
        System.IO.File.WriteAllText("/tmp/ad/plan.txt", Wudao.Compiler.Plan.PlanPrinter.Print(plan));
    }
}
