using System.Collections.Generic;

namespace Wudao.Compiler.Ir.Math;

/// <summary>
/// A scalar formula, written once and rendered for every target (<see cref="MathDialect"/>): an
/// op's body fragment is an <see cref="Expr"/>, so the ILGPU kernels, the native scalar tails and
/// the native vector loops compute the same operations in the same order.
/// </summary>
public abstract class Expr
{
    public static implicit operator Expr(float value) => new Num(value);

    public static Expr operator +(Expr a, Expr b) => new Binary('+', a, b);

    public static Expr operator -(Expr a, Expr b) => new Binary('-', a, b);

    public static Expr operator *(Expr a, Expr b) => new Binary('*', a, b);

    public static Expr operator /(Expr a, Expr b) => new Binary('/', a, b);

    public static Expr operator -(Expr a) => new Negate(a);

    /// <summary>The C# text of this formula in <paramref name="dialect"/>.</summary>
    public abstract string Render(MathDialect dialect);
}

/// <summary>A named local or parameter.</summary>
public sealed class Var : Expr
{
    public Var(string name) => Name = name;

    public string Name { get; }

    public override string Render(MathDialect dialect) => Name;
}

/// <summary>A float constant.</summary>
public sealed class Num : Expr
{
    public Num(float value) => Value = value;

    public float Value { get; }

    public override string Render(MathDialect dialect) => dialect.Constant(Value);
}

public sealed class Binary : Expr
{
    public Binary(char op, Expr left, Expr right)
    {
        Op = op;
        Left = left;
        Right = right;
    }

    public char Op { get; }

    public Expr Left { get; }

    public Expr Right { get; }

    public override string Render(MathDialect dialect) => $"({Left.Render(dialect)} {Op} {Right.Render(dialect)})";
}

public sealed class Negate : Expr
{
    public Negate(Expr operand) => Operand = operand;

    public Expr Operand { get; }

    public override string Render(MathDialect dialect) => $"(-{Operand.Render(dialect)})";
}

/// <summary>A primitive every dialect maps to its own call: exp, abs, or the select "z &lt; 0 ? a : b".</summary>
public sealed class Primitive : Expr
{
    public Primitive(string name, params Expr[] args)
    {
        Name = name;
        Args = args;
    }

    public string Name { get; }

    public IReadOnlyList<Expr> Args { get; }

    public override string Render(MathDialect dialect) => dialect.Primitive(Name, Args);
}

/// <summary>A call of a <see cref="MathFunction"/> that the emitter declares once per generated class.</summary>
public sealed class Call : Expr
{
    public Call(MathFunction function, Expr argument)
    {
        Function = function;
        Argument = argument;
    }

    public MathFunction Function { get; }

    public Expr Argument { get; }

    public override string Render(MathDialect dialect) => $"{dialect.FunctionName(Function.Name)}({Argument.Render(dialect)})";
}

/// <summary>Shorthands the op table writes its formulas with.</summary>
public static class E
{
    public static Expr Exp(Expr x) => new Primitive("exp", x);

    public static Expr Abs(Expr x) => new Primitive("abs", x);

    public static Expr Log(Expr x) => new Primitive("log", x);

    public static Expr Max(Expr a, Expr b) => new Primitive("max", a, b);

    /// <summary><c>a &lt; b ? then : otherwise</c>; a NaN on either side takes <paramref name="otherwise"/>.</summary>
    public static Expr IfLess(Expr a, Expr b, Expr then, Expr otherwise) => new Primitive("if_less", a, b, then, otherwise);

    /// <summary><c>z &lt; 0 ? ifNegative : otherwise</c>; a NaN z takes <paramref name="otherwise"/>.</summary>
    public static Expr IfNegative(Expr z, Expr ifNegative, Expr otherwise) => new Primitive("if_negative", z, ifNegative, otherwise);

    public static Var V(string name) => new(name);
}
