using System.Collections.Generic;
using Wudao.Compiler.Codegen;

namespace Wudao.Compiler.Ir.Math;

/// <summary>
/// How one target spells a formula: its element type, constants and primitives. ILGPU kernels use
/// XMath (device intrinsics); the native target uses MathF for scalar tails and
/// Vector512/Vector256 for its vector loops.
/// </summary>
public abstract class MathDialect
{
    /// <summary>Scalar float in ILGPU kernels.</summary>
    public static readonly MathDialect Ilgpu = new ScalarDialect("global::ILGPU.Algorithms.XMath", "Device");

    /// <summary>Scalar float on the native target.</summary>
    public static readonly MathDialect Native = new ScalarDialect("global::System.MathF", "");

    /// <summary>Sixteen floats at a time on the native target.</summary>
    public static readonly MathDialect Vector512 = new VectorDialect("Vector512", "V512");

    /// <summary>Eight floats at a time on the native target.</summary>
    public static readonly MathDialect Vector256 = new VectorDialect("Vector256", "V256");

    /// <summary>The element type formulas compute in.</summary>
    public abstract string Type { get; }

    public abstract string Constant(float value);

    public abstract string Primitive(string name, IReadOnlyList<Expr> args);

    /// <summary>The method name a function is declared under: each dialect its own, so one class can hold several.</summary>
    public abstract string FunctionName(string name);

    private static CompileException Unknown(string name) => new($"formula primitive '{name}' has no rendering");

    private sealed class ScalarDialect : MathDialect
    {
        private readonly string _math;
        private readonly string _prefix;

        public ScalarDialect(string math, string prefix)
        {
            _math = math;
            _prefix = prefix;
        }

        public override string Type => "float";

        public override string Constant(float value) => CSharpNames.Float(value);

        public override string FunctionName(string name) => _prefix + name;

        public override string Primitive(string name, IReadOnlyList<Expr> a) => name switch
        {
            "exp" => $"{_math}.Exp({a[0].Render(this)})",
            "log" => $"{_math}.Log({a[0].Render(this)})",
            "max" => $"{_math}.Max({a[0].Render(this)}, {a[1].Render(this)})",
            "abs" => $"({a[0].Render(this)} < 0f ? -{a[0].Render(this)} : {a[0].Render(this)})",
            "if_negative" => $"({a[0].Render(this)} < 0f ? {a[1].Render(this)} : {a[2].Render(this)})",
            "if_less" => $"({a[0].Render(this)} < {a[1].Render(this)} ? {a[2].Render(this)} : {a[3].Render(this)})",
            _ => throw Unknown(name),
        };
    }

    private sealed class VectorDialect : MathDialect
    {
        private readonly string _v;
        private readonly string _suffix;

        public VectorDialect(string vector, string suffix)
        {
            _v = "global::System.Runtime.Intrinsics." + vector;
            _suffix = suffix;
        }

        public override string Type => _v + "<float>";

        public override string Constant(float value) => $"{_v}.Create({CSharpNames.Float(value)})";

        public override string FunctionName(string name) => name + _suffix;

        public override string Primitive(string name, IReadOnlyList<Expr> a) => name switch
        {
            "exp" => $"{_v}.Exp({a[0].Render(this)})",
            "log" => $"{_v}.Log({a[0].Render(this)})",
            "max" => $"{_v}.Max({a[0].Render(this)}, {a[1].Render(this)})",
            "abs" => $"{_v}.Abs({a[0].Render(this)})",
            "if_negative" => $"{_v}.ConditionalSelect({_v}.LessThan({a[0].Render(this)}, {Type}.Zero), {a[1].Render(this)}, {a[2].Render(this)})",
            "if_less" => $"{_v}.ConditionalSelect({_v}.LessThan({a[0].Render(this)}, {a[1].Render(this)}), {a[2].Render(this)}, {a[3].Render(this)})",
            _ => throw Unknown(name),
        };
    }
}
