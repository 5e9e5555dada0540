namespace Wudao.Attention;

/// <summary>
/// A head dimension known when the kernel is compiled. The native kernels take it as a struct type
/// parameter (<c>where TDim : struct, IHeadDim</c>): the JIT compiles one body per struct type and
/// reads <see cref="Value"/> as a constant there, so loop bounds and tail handling fold away —
/// the .NET analogue of a C++ template parameter. (A plain int argument would leave every loop
/// bound a runtime value; a generic over int does not exist in C#.) Generated models name one of
/// the provided dims or declare their own struct.
/// </summary>
public interface IHeadDim
{
    static abstract int Value { get; }
}

/// <summary>Head dimension 32.</summary>
public readonly struct HeadDim32 : IHeadDim
{
    public static int Value => 32;
}

/// <summary>Head dimension 64.</summary>
public readonly struct HeadDim64 : IHeadDim
{
    public static int Value => 64;
}

/// <summary>Head dimension 128.</summary>
public readonly struct HeadDim128 : IHeadDim
{
    public static int Value => 128;
}
