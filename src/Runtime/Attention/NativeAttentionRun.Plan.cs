using System;

namespace Wudao.Attention;

/// <summary>Planning one call: its kv_pack chunks and its attention items (query tiles sized to the work, largest first), per-worker scratch grown once.</summary>
internal sealed unsafe partial class NativeAttentionRun<TKernel>
{
    /// <summary>Fills the item lists for one call and grows what it needs.</summary>
    private void Plan(AttentionShape shape, ReadOnlySpan<int> offsets, KvCache? cache, int threads)
    {
        _shape = shape;
        var dim = TKernel.HeadDim;
        var sequences = offsets.Length - 1;
        _sequences = sequences;
        _tokenTile = Math.Max(1, RowTarget / shape.Group);
        Grow(ref _offsets, offsets.Length);
        offsets.CopyTo(_offsets);
        Grow(ref _past, sequences);
        Grow(ref _kvBase, sequences);
        Grow(ref _kvTiles, sequences);
        if (_kvKeys.Length < sequences)
        {
            _kvKeys = new float[sequences][];
            _kvValues = new float[sequences][];
        }

        // Where each sequence's keys and values live for this call.
        var scratch = 0;
        for (var b = 0; b < sequences; b++)
        {
            var n = offsets[b + 1] - offsets[b];
            if (cache != null)
            {
                _past[b] = cache.Length(b);
                _kvBase[b] = 0;
                _kvTiles[b] = cache.Tiles;
            }
            else
            {
                _past[b] = 0;
                _kvBase[b] = scratch;
                _kvTiles[b] = (n + Tile - 1) / Tile;
                scratch = checked(scratch + (shape.KvHeads * KvTiles.PerHead(_kvTiles[b], dim)));
            }
        }

        if (cache == null)
        {
            Grow(ref _scratchKeys, scratch);
            Grow(ref _scratchValues, scratch);
        }

        for (var b = 0; b < sequences; b++)
        {
            _kvKeys[b] = cache?.Keys(b) ?? _scratchKeys;
            _kvValues[b] = cache?.Values(b) ?? _scratchValues;
        }

        // kv_pack items: chunks of new tokens.
        var packs = 0;
        var items = 0;
        for (var b = 0; b < sequences; b++)
        {
            var n = offsets[b + 1] - offsets[b];
            packs += (n + Tile - 1) / Tile;
            items += shape.KvHeads * ((n + _tokenTile - 1) / _tokenTile);
        }

        Grow(ref _packSequence, packs);
        Grow(ref _packStart, packs);
        _packItems = 0;
        for (var b = 0; b < sequences; b++)
        {
            for (var t = 0; t < offsets[b + 1] - offsets[b]; t += Tile)
            {
                _packSequence[_packItems] = b;
                _packStart[_packItems++] = t;
            }
        }

        // attention items, costliest first (cost: key tiles visited).
        Grow(ref _itemSequence, items);
        Grow(ref _itemHead, items);
        Grow(ref _itemStart, items);
        Grow(ref _itemCost, items);
        Grow(ref _order, items);
        _items = 0;
        for (var b = 0; b < sequences; b++)
        {
            var n = offsets[b + 1] - offsets[b];
            for (var t = 0; t < n; t += _tokenTile)
            {
                var keys = shape.Causal ? _past[b] + Math.Min(t + _tokenTile, n) : _past[b] + n;
                for (var g = 0; g < shape.KvHeads; g++)
                {
                    _itemSequence[_items] = b;
                    _itemHead[_items] = g;
                    _itemStart[_items] = t;
                    _itemCost[_items] = -((keys + Tile - 1) / Tile);
                    _order[_items] = _items;
                    _items++;
                }
            }
        }

        Array.Sort(_itemCost, _order, 0, _items);

        // Per-worker scratch, as much as the kernel asks for a tile's rows (padded to its 4-row blocks).
        var rows = RoundUp4(_tokenTile * shape.Group);
        var need = TKernel.WorkFloats(rows);
        if (_work.Length < threads)
        {
            Array.Resize(ref _work, threads);
            Array.Resize(ref _rowPositions, threads);
        }

        for (var w = 0; w < threads; w++)
        {
            if (_work[w] == null || _work[w].Length < need)
            {
                _work[w] = new float[need];
            }

            if (_rowPositions[w] == null || _rowPositions[w].Length < rows)
            {
                _rowPositions[w] = new int[rows];
            }
        }
    }
}
