namespace Wudao.GpuRunner.Testing;

/// <summary>How a test ended.</summary>
public enum Outcome
{
    Passed,
    Failed,
    Skipped,
}

/// <summary>The outcome of one test, its time, and for a failure the exception's type, message and stack.</summary>
public sealed record TestResult(string Name, Outcome Outcome, double Seconds, string? Message = null);
