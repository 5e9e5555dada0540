namespace Wudao.Compiler.Codegen;

/// <summary>
/// CV² = unbiased variance / (mean² + 1e-10), as noisy top-k's importance and load losses define
/// it (torch's var divides by n − 1; 0 for fewer than two experts): declared in the generated
/// kernel class for a plan with <c>noisy_loss</c>, over a device view for the ILGPU route and a
/// span for the native one — the same operations in the same order, so both give the same bits.
/// </summary>
internal static class CvSquaredFragment
{
    public static string Declarations => Body("global::ILGPU.ArrayView<float>", "IntLength") + "\n" + Body("global::System.ReadOnlySpan<float>", "Length");

    private static string Body(string type, string length) => $@"internal static float CvSquared({type} v)
{{
    int n = v.{length};
    if (n < 2)
    {{
        return 0f;
    }}

    float mean = 0f;
    for (int i = 0; i < n; i++)
    {{
        mean += v[i];
    }}

    mean /= n;
    float variance = 0f;
    for (int i = 0; i < n; i++)
    {{
        float dv = v[i] - mean;
        variance += dv * dv;
    }}

    return variance / (n - 1) / ((mean * mean) + 1e-10f);
}}
";
}
