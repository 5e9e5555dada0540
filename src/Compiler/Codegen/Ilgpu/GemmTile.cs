namespace Wudao.Compiler.Codegen;

/// <summary>
/// One tile of the device GEMM y = x·w: a group computes <see cref="Rows"/> x <see cref="Cols"/>
/// outputs, staging x and w in shared memory <see cref="Depth"/> steps of K at a time; each thread
/// keeps a <see cref="RegRows"/> x <see cref="RegCols"/> block of outputs in registers.
/// </summary>
/// <param name="Rows">Output rows of a tile (TM).</param>
/// <param name="Cols">Output columns of a tile (TN).</param>
/// <param name="Depth">K steps staged per shared-memory phase (TK).</param>
/// <param name="RegRows">Rows of a thread's register block.</param>
/// <param name="RegCols">Columns of a thread's register block.</param>
public sealed record GemmTile(int Rows, int Cols, int Depth, int RegRows, int RegCols)
{
    /// <summary>Threads across a tile's columns; a thread's columns are this far apart, so a warp reads consecutive floats.</summary>
    public int ThreadCols => Cols / RegCols;

    /// <summary>Threads across a tile's rows.</summary>
    public int ThreadRows => Rows / RegRows;

    public int Threads => ThreadRows * ThreadCols;

    /// <summary>Floats of shared memory: the x tile (Rows x Depth) and the w tile (Depth x Cols).</summary>
    public int SharedFloats => (Rows * Depth) + (Depth * Cols);

    /// <summary>Groups for <paramref name="n"/> columns of one tile row.</summary>
    public int ColumnTiles(int n) => (n + Cols - 1) / Cols;
}
