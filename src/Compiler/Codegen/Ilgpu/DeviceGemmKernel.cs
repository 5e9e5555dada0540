using System.Linq;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The body of one device GEMM tile, y[rows, N] = x[rows, K]·w[K, N] (+ bias), inside a class that
/// defines the constants K and N. Each K step stages an x tile (Rows x Depth) and a w tile
/// (Depth x Cols) in shared memory between barriers; a thread's register block is unrolled into
/// scalars, and its rows and columns are a thread row or column apart, so a warp reads
/// consecutive shared and global floats. Zero padding past rows, K and N keeps the inner loop free
/// of bounds checks; the loads and the epilogue's stores check them.
/// </summary>
internal static class DeviceGemmKernel
{
    private const string View = "global::ILGPU.ArrayView<float>";

    public static void Emit(SourceWriter w, string method, GemmTile t, int n, bool bias)
    {
        var rows = Enumerable.Range(0, t.RegRows).ToList();
        var cols = Enumerable.Range(0, t.RegCols).ToList();
        var acc = rows.SelectMany(i => cols.Select(j => (I: i, J: j))).ToList();
        w.Line($"/// <summary>Tiles of {t.Rows} x {t.Cols} outputs, K in steps of {t.Depth}, {t.RegRows} x {t.RegCols} outputs a thread; group i is tile (i / {t.ColumnTiles(n)}, i % {t.ColumnTiles(n)}).</summary>");
        w.Open($"public static void {method}({View} x, {View} w, {View} bias, {View} y, int rows)");
        w.Line($"const int TM = {t.Rows};");
        w.Line($"const int TN = {t.Cols};");
        w.Line($"const int TK = {t.Depth};");
        w.Line($"const int Tiles = {t.ColumnTiles(n)};");
        w.Line("var xs = global::ILGPU.SharedMemory.Allocate<float>(TM * TK);");
        w.Line("var ws = global::ILGPU.SharedMemory.Allocate<float>(TK * TN);");
        w.Line("int tid = global::ILGPU.Group.IdxX;");
        w.Line("int g = global::ILGPU.Group.DimX;");
        w.Line("int tileRow = global::ILGPU.Grid.IdxX / Tiles;");
        w.Line("int row0 = tileRow * TM;");
        w.Line("int col0 = (global::ILGPU.Grid.IdxX - (tileRow * Tiles)) * TN;");
        w.Line();
        w.Line($"// A group of fewer than the tile's {t.Threads} threads (g divides them) plays them in turns,");
        w.Line("// every thread taking the same number, so the barriers inside stay uniform.");
        w.Open($"for (int v = tid; v < {t.Threads}; v += g)");
        w.Line($"int ty = v / {t.ThreadCols};");
        w.Line($"int tx = v - (ty * {t.ThreadCols});");
        foreach (var (i, j) in acc)
        {
            w.Line($"float c{i}_{j} = 0f;");
        }

        w.Open("for (int k0 = 0; k0 < K; k0 += TK)");
        w.Open("for (int i = tid; i < TM * TK; i += g)");
        w.Line("int m = i / TK;");
        w.Line("int k = k0 + i - (m * TK);");
        w.Line("xs[i] = row0 + m < rows && k < K ? x[((long)(row0 + m) * K) + k] : 0f;");
        w.Close();
        w.Line();
        w.Open("for (int i = tid; i < TK * TN; i += g)");
        w.Line("int kk = i / TN;");
        w.Line("int c = col0 + i - (kk * TN);");
        w.Line("ws[i] = k0 + kk < K && c < N ? w[((long)(k0 + kk) * N) + c] : 0f;");
        w.Close();
        w.Line();
        w.Line("global::ILGPU.Group.Barrier();");
        w.Open("for (int kk = 0; kk < TK; kk++)");
        foreach (var i in rows)
        {
            w.Line($"float a{i} = xs[({(i == 0 ? "ty" : $"(ty + {i * t.ThreadRows})")} * TK) + kk];");
        }

        foreach (var j in cols)
        {
            w.Line($"float b{j} = ws[(kk * TN) + {Plus("tx", j * t.ThreadCols)}];");
        }

        foreach (var (i, j) in acc)
        {
            w.Line($"c{i}_{j} += a{i} * b{j};");
        }

        w.Close();
        w.Line();
        w.Line("global::ILGPU.Group.Barrier();");
        w.Close();
        w.Line();
        foreach (var j in cols)
        {
            w.Line($"int n{j} = col0 + {Plus("tx", j * t.ThreadCols)};");
        }

        foreach (var i in rows)
        {
            w.Line($"int r{i} = row0 + {Plus("ty", i * t.ThreadRows)};");
            w.Open($"if (r{i} < rows)");
            w.Line($"long o{i} = (long)r{i} * N;");
            foreach (var j in cols)
            {
                w.Open($"if (n{j} < N)");
                w.Line($"y[o{i} + n{j}] = c{i}_{j}{(bias ? $" + bias[n{j}]" : "")};");
                w.Close();
            }

            w.Close();
        }

        w.Close();
        w.Close();
    }

    private static string Plus(string index, int offset) => offset == 0 ? index : $"{index} + {offset}";
}
