namespace Wudao.Tool;

/// <summary>What the process's exit status means; scripts and CI test these.</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The input has errors: WD diagnostics, or a malformed safetensors file or index.</summary>
    public const int InputErrors = 1;

    /// <summary>The input could not be used: a missing path, an unsupported kind of input, nothing declared, a bad option, Graphviz missing.</summary>
    public const int Unusable = 2;
}
