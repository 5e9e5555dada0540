using System.Collections.Generic;
using static Wudao.Compiler.Ir.ShapeRules;

namespace Wudao.Compiler.Ir;

/// <summary>The op the autodiff pass writes itself: the sum of a value's cotangent contributions.</summary>
internal static class AutodiffOpDefs
{
    public static IEnumerable<OpDef> All => new[]
    {
        new OpDef(Ops.Add, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) =>
        {
            SameShape(n, t[0], t[1]);
            return t[0].DType == DType.F32 ? new[] { t[0] } : throw new CompileException($"%{n.Name} = add: operands must be f32, got {t[0]}");
        })
        {
            Gradient = static (n, b) => b.With(0, d =>
            {
                b.Pass(0, d);
                b.Pass(1, d);
            }),
        },
    };
}
