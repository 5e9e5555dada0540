using Wudao.Compiler.Ir.Math;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The ILGPU expert kernel: one group per TM-row tile of one expert; the fused MLP steps through
/// the hidden width HC columns at a time in shared memory.
/// </summary>
internal static class IlgpuExpertEmitter
{
    public static string Body(ExpertKernel x)
    {
        var mlp = x.Mlp;
        // The up GEMM's main loop, its bias epilogue and the activation's fragment; a gated
        // activation accumulates the gate column c and the up column H + c together.
        var gated = mlp.Activation?.Gated == true;
        string Start(string column) => mlp.UpBias != null ? $"b1[((long)e * H1) + {column}]" : "0f";
        var upAcc = $@"float a = {Start("c")};{(gated ? $"\n                float u = {Start("H + c")};" : "")}
                for (int d = 0; d < D; d++)
                {{
                    float xv = xs[(r * D) + d];
                    long w = ((((long)e * D) + d) * H1) + c;
                    a += xv * w1[w];{(gated ? "\n                    u += xv * w1[w + H];" : "")}
                }}

                v = {mlp.Activation?.Render(MathDialect.Ilgpu, "a", "u") ?? "a"};";
        var yStart = mlp.DownBias != null ? "b2[((long)e * D) + d]" : "0f";
        var offsets = x.Offsets;
        var body = $@"var xs = global::ILGPU.SharedMemory.Allocate<float>(TM * D);
var hs = global::ILGPU.SharedMemory.Allocate<float>(TM * HC);
int tid = global::ILGPU.Group.IdxX;
int g = global::ILGPU.Group.DimX;

// Find this group's tile: tiles are numbered expert by expert, TM rows each, never crossing
// an expert. Groups past the last tile leave together, before any barrier.
int tile = global::ILGPU.Grid.IdxX;
int e = -1;
int start = 0;
int n = 0;
for (int ee = 0; ee < E; ee++)
{{
    int count = meta[{offsets} + ee + 1] - meta[{offsets} + ee];
    int tiles = (count + TM - 1) / TM;
    if (e < 0)
    {{
        if (tile < tiles)
        {{
            e = ee;
            start = meta[{offsets} + ee] + (tile * TM);
            n = count - (tile * TM) < TM ? count - (tile * TM) : TM;
        }}
        else
        {{
            tile -= tiles;
        }}
    }}
}}

if (e < 0)
{{
    return;
}}

// Stage the tile's input rows in shared memory; start the output at the second bias.
for (int i = tid; i < TM * D; i += g)
{{
    int r = i / D;
    int d = i - (r * D);
    bool live = r < n;
    xs[i] = live ? rows[((long)(start + r) * D) + d] : 0f;
    if (live)
    {{
        y[((long)(start + r) * D) + d] = {yStart};
    }}
}}

global::ILGPU.Group.Barrier();

// Fused MLP: each step makes HC hidden columns (GEMM + bias + activation) in shared memory,
// then adds their product with the down projection to the output rows this thread owns.
for (int h0 = 0; h0 < H; h0 += HC)
{{
    for (int i = tid; i < TM * HC; i += g)
    {{
        int r = i / HC;
        int c = h0 + (i - (r * HC));
        float v = 0f;
        if (r < n && c < H)
        {{
            {upAcc}
        }}

        hs[i] = v;
    }}

    global::ILGPU.Group.Barrier();
    int cMax = H - h0 < HC ? H - h0 : HC;
    for (int i = tid; i < TM * D; i += g)
    {{
        int r = i / D;
        if (r < n)
        {{
            int d = i - (r * D);
            float acc = 0f;
            for (int c = 0; c < cMax; c++)
            {{
                acc += hs[(r * HC) + c] * w2[((((long)e * H) + h0 + c) * D) + d];
            }}

            y[((long)(start + r) * D) + d] += acc;
        }}
    }}

    global::ILGPU.Group.Barrier();
}}
";
        return body;
    }
}
