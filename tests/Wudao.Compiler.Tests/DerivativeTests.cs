using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Ir.Math;
using Xunit;

namespace Wudao.Compiler.Tests;

/// <summary>
/// Symbolic derivatives of the formula functions: against closed forms, against central finite
/// differences of the forward formula (in double), and as rendered code.
/// </summary>
public class DerivativeTests
{
    private static readonly double[] Points = { -9.5, -4, -2.5, -1, -0.3, -1e-3, 1e-3, 0.2, 0.7, 1.5, 3, 6, 12 };

    public static IEnumerable<object[]> Functions() =>
        Activations.All.Select(a => a.Function).Concat(new[] { RouterFunctions.Softplus, RouterFunctions.Sigmoid, RouterFunctions.Phi, Activations.Erf })
            .Distinct().Select(f => new object[] { f.Name });

    [Theory]
    [MemberData(nameof(Functions))]
    public void Every_function_s_derivative_matches_finite_differences_of_its_formula(string name)
    {
        var f = ByName(name);
        var df = Derivative.Of(f);
        foreach (var x in Points)
        {
            // The formulas hold float constants, so a step far above double rounding and the
            // formula's own curvature scale gives agreement to ~1e-6.
            const double h = 1e-5;
            var numeric = (Evaluate(f, x + h) - Evaluate(f, x - h)) / (2 * h);
            var symbolic = Evaluate(df, x);
            Assert.True(Math.Abs(numeric - symbolic) <= 1e-6 + (1e-5 * Math.Abs(numeric)), $"{name}'({x}) = {symbolic}, finite differences give {numeric}");
        }
    }

    [Fact]
    public void Closed_forms_agree()
    {
        foreach (var x in Points)
        {
            var sigma = 1 / (1 + Math.Exp(-x));
            var phi = Math.Exp(-x * x / 2) / Math.Sqrt(2 * Math.PI);
            var bigPhi = Evaluate(RouterFunctions.Phi, x);
            Assert.Equal(sigma * (1 + (x * (1 - sigma))), Evaluate(Derivative.Of(Activations.Silu), x), 1e-6);
            Assert.Equal(sigma * (1 - sigma), Evaluate(Derivative.Of(RouterFunctions.Sigmoid), x), 1e-6);
            Assert.Equal(bigPhi + (x * phi), Evaluate(Derivative.Of(Activations.Gelu), x), 2e-5); // the derivative of erf's polynomial, not of erf
            Assert.Equal(x < 0 ? 0 : 1, Evaluate(Derivative.Of(Activations.Relu), x));
            Assert.Equal(sigma, Evaluate(Derivative.Of(RouterFunctions.Softplus), x), 1e-6);
        }
    }

    [Fact]
    public void A_derivative_is_built_once_and_declared_after_what_it_calls()
    {
        var gelu = Derivative.Of(Activations.Gelu);

        Assert.Same(gelu, Derivative.Of(Activations.Gelu));
        Assert.Equal("GeluGrad", gelu.Name);
        Assert.Equal(new[] { "Erf", "ErfGrad", "GeluGrad" }, gelu.WithDependencies().Select(f => f.Name));
        var declared = gelu.Declare(MathDialect.Native);
        Assert.StartsWith("private static float GeluGrad(float x)", declared, StringComparison.Ordinal);
        Assert.Contains("ErfGrad(", declared, StringComparison.Ordinal);

        // Relu's derivative folds to a select of constants: nothing left of the forward's x.
        Assert.Equal("private static float ReluGrad(float x)\n{\n    return (x < 0f ? 0f : 1f);\n}\n", Derivative.Of(Activations.Relu).Declare(MathDialect.Native));
    }

    [Fact]
    public void Relu_passes_nan_through_its_derivative_as_the_forward_does()
    {
        Assert.Equal(1, Evaluate(Derivative.Of(Activations.Relu), double.NaN));
    }

    private static MathFunction ByName(string name) =>
        Activations.All.Select(a => a.Function).Concat(new[] { RouterFunctions.Softplus, RouterFunctions.Sigmoid, RouterFunctions.Phi, Activations.Erf })
            .First(f => f.Name == name);

    private static double Evaluate(MathFunction f, double x) => Reference.ExprEvaluator.Evaluate(f, x);
}
