namespace Wudao.Compiler;

/// <summary>
/// An emitter could not assemble a planned kernel from its ops' fragments: the message names the
/// kernel, the op and why. Reported as its own diagnostic (WD0014); an op is never dropped silently.
/// </summary>
public sealed class KernelAssemblyException : CompileException
{
    public KernelAssemblyException(string message)
        : base(message)
    {
    }

    public KernelAssemblyException()
    {
    }

    public KernelAssemblyException(string message, System.Exception inner)
        : base(message, inner)
    {
    }
}
