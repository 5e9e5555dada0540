using System;

namespace Wudao.Compiler.Ir;

/// <summary>
/// One tensor dimension: a constant known at compile time, or a symbol bound at run time
/// (<c>T</c> = tokens in the batch, <c>S</c> = rows kept for the experts).
/// </summary>
public readonly struct Dim : IEquatable<Dim>
{
    private Dim(int value, string? symbol)
    {
        Value = value;
        Symbol = symbol;
    }

    /// <summary>The constant size; meaningless when <see cref="IsSymbolic"/>.</summary>
    public int Value { get; }

    /// <summary>The symbol name, or null for a constant.</summary>
    public string? Symbol { get; }

    public bool IsSymbolic => Symbol != null;

    public static Dim Of(int value) => value < 0
        ? throw new ArgumentOutOfRangeException(nameof(value), "a dimension cannot be negative")
        : new Dim(value, null);

    public static Dim Sym(string symbol) => new(0, symbol);

    public static implicit operator Dim(int value) => Of(value);

    public bool Equals(Dim other) => Value == other.Value && Symbol == other.Symbol;

    public override bool Equals(object? obj) => obj is Dim d && Equals(d);

    public override int GetHashCode() => Symbol?.GetHashCode() ?? Value;

    public static bool operator ==(Dim a, Dim b) => a.Equals(b);

    public static bool operator !=(Dim a, Dim b) => !a.Equals(b);

    public override string ToString() => Symbol ?? Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
