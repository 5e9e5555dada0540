namespace Wudao.Attention;

/// <summary>
/// Where a token's key and value live in the kernel's layout, shared by the KV cache and the
/// per-call scratch: per kv head, <c>tiles</c> key tiles of [dim][KeyTile] (transposed, so the score
/// micro-kernel loads contiguous keys for each dimension) and values as [token][dim] rows.
/// </summary>
public static class KvTiles
{
    /// <summary>Index of dimension 0 of a key; dimension d is KeyTile·d further.</summary>
    public static int Key(int tiles, int dim, int kvHead, int position) =>
        ((((kvHead * tiles) + (position / NativeAttention.KeyTile)) * dim) * NativeAttention.KeyTile) + (position % NativeAttention.KeyTile);

    /// <summary>Index of a value row.</summary>
    public static int Value(int tiles, int dim, int kvHead, int position) =>
        ((kvHead * tiles * NativeAttention.KeyTile) + position) * dim;

    /// <summary>Floats one kv head takes for either keys or values.</summary>
    public static int PerHead(int tiles, int dim) => tiles * NativeAttention.KeyTile * dim;
}
