namespace Wudao.Compiler.Ir;

/// <summary>Element type of a tensor.</summary>
public enum DType
{
    F32,
    I32,
}

/// <summary>Text form of element types: <c>f32</c>, <c>i32</c>.</summary>
public static class DTypes
{
    public static string ToText(this DType type) => type == DType.F32 ? "f32" : "i32";

    public static bool TryParse(string text, out DType type)
    {
        switch (text)
        {
            case "f32": type = DType.F32; return true;
            case "i32": type = DType.I32; return true;
            default: type = DType.F32; return false;
        }
    }
}
