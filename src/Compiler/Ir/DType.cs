namespace Wudao.Compiler.Ir;

/// <summary>Element type of a tensor. Activations and accumulation are f32; weights may be stored narrower.</summary>
public enum DType
{
    F32,
    I32,
    BF16,
    F16,

    /// <summary>8-bit integers with a float scale per block of a row (weight-only quantisation).</summary>
    I8,
}

/// <summary>Text form of element types: <c>f32</c>, <c>i32</c>, <c>bf16</c>, <c>f16</c>, <c>i8</c>.</summary>
public static class DTypes
{
    public static string ToText(this DType type) => type switch
    {
        DType.F32 => "f32",
        DType.I32 => "i32",
        DType.BF16 => "bf16",
        DType.F16 => "f16",
        _ => "i8",
    };

    /// <summary>Bytes per element (an i8 weight's block scales are not counted here).</summary>
    public static int Size(this DType type) => type switch
    {
        DType.F32 or DType.I32 => 4,
        DType.BF16 or DType.F16 => 2,
        _ => 1,
    };

    /// <summary>Whether a weight may be stored in this type.</summary>
    public static bool IsWeight(this DType type) => type != DType.I32;

    public static bool TryParse(string text, out DType type)
    {
        switch (text)
        {
            case "f32": type = DType.F32; return true;
            case "i32": type = DType.I32; return true;
            case "bf16": type = DType.BF16; return true;
            case "f16": type = DType.F16; return true;
            case "i8": type = DType.I8; return true;
            default: type = DType.F32; return false;
        }
    }
}
