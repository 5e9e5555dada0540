using System;
using System.Runtime.CompilerServices;

namespace Wudao.Attention;

/// <summary>
/// The three inner steps of a query-tile × key-tile block, each over four query rows at a time:
/// scores S = Q·Kᵀ (register-blocked: 4 rows × 4 vectors of keys, one FMA per loaded key vector
/// and row), the online-softmax update of one row, and O = α·O + P·V (4 rows × up to 4 vectors of
/// the head dimension). Head dimension and vector width are type parameters, so every loop bound
/// is a JIT constant.
/// </summary>
internal static class AttentionMicroKernels
{
    private const int Tile = NativeAttention.KeyTile;

    /// <summary>s[r, j] = q[r]·k[j] for 4 rows (stride D) and one key tile stored [D][Tile].</summary>
    public static void Scores4<TDim, TS, TV>(ref float q, ref float kt, ref float s)
        where TDim : struct, IHeadDim
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        var dim = TDim.Value;
        var l = TS.Lanes;
        ref var q1 = ref Unsafe.Add(ref q, dim);
        ref var q2 = ref Unsafe.Add(ref q, 2 * dim);
        ref var q3 = ref Unsafe.Add(ref q, 3 * dim);
        for (var c = 0; c < Tile; c += 4 * l)
        {
            TV a00 = TS.Zero, a01 = TS.Zero, a02 = TS.Zero, a03 = TS.Zero;
            TV a10 = TS.Zero, a11 = TS.Zero, a12 = TS.Zero, a13 = TS.Zero;
            TV a20 = TS.Zero, a21 = TS.Zero, a22 = TS.Zero, a23 = TS.Zero;
            TV a30 = TS.Zero, a31 = TS.Zero, a32 = TS.Zero, a33 = TS.Zero;
            ref var k = ref Unsafe.Add(ref kt, c);
            for (var d = 0; d < dim; d++)
            {
                ref var kr = ref Unsafe.Add(ref k, d * Tile);
                var k0 = TS.Load(ref kr);
                var k1 = TS.Load(ref Unsafe.Add(ref kr, l));
                var k2 = TS.Load(ref Unsafe.Add(ref kr, 2 * l));
                var k3 = TS.Load(ref Unsafe.Add(ref kr, 3 * l));
                var b = TS.Broadcast(Unsafe.Add(ref q, d));
                a00 = TS.Fma(b, k0, a00);
                a01 = TS.Fma(b, k1, a01);
                a02 = TS.Fma(b, k2, a02);
                a03 = TS.Fma(b, k3, a03);
                b = TS.Broadcast(Unsafe.Add(ref q1, d));
                a10 = TS.Fma(b, k0, a10);
                a11 = TS.Fma(b, k1, a11);
                a12 = TS.Fma(b, k2, a12);
                a13 = TS.Fma(b, k3, a13);
                b = TS.Broadcast(Unsafe.Add(ref q2, d));
                a20 = TS.Fma(b, k0, a20);
                a21 = TS.Fma(b, k1, a21);
                a22 = TS.Fma(b, k2, a22);
                a23 = TS.Fma(b, k3, a23);
                b = TS.Broadcast(Unsafe.Add(ref q3, d));
                a30 = TS.Fma(b, k0, a30);
                a31 = TS.Fma(b, k1, a31);
                a32 = TS.Fma(b, k2, a32);
                a33 = TS.Fma(b, k3, a33);
            }

            ref var s0 = ref Unsafe.Add(ref s, c);
            Store4<TS, TV>(ref s0, a00, a01, a02, a03);
            Store4<TS, TV>(ref Unsafe.Add(ref s0, Tile), a10, a11, a12, a13);
            Store4<TS, TV>(ref Unsafe.Add(ref s0, 2 * Tile), a20, a21, a22, a23);
            Store4<TS, TV>(ref Unsafe.Add(ref s0, 3 * Tile), a30, a31, a32, a33);
        }
    }

    /// <summary>
    /// Online-softmax update of one score row in place: keys at or past <paramref name="limit"/>
    /// are masked, the row becomes P = e^(s − m_new), m and l advance. Returns α = e^(m_old − m_new),
    /// the factor the row's accumulator must be scaled by (0 on the first tile, 1 when every key
    /// of the tile is masked for this row).
    /// </summary>
    public static float Softmax<TS, TV>(ref float s, int limit, ref float m, ref float l)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        var lanes = TS.Lanes;
        if (limit <= 0)
        {
            // The row's position precedes the whole tile: it sees none of these keys.
            for (var c = 0; c < Tile; c += lanes)
            {
                TS.Store(TS.Zero, ref Unsafe.Add(ref s, c));
            }

            return 1f;
        }

        var max = TS.Broadcast(float.NegativeInfinity);
        for (var c = 0; c < Tile; c += lanes)
        {
            ref var at = ref Unsafe.Add(ref s, c);
            var x = TS.Load(ref at);
            if (limit < Tile)
            {
                x = TS.MaskFrom(x, c, limit);
                TS.Store(x, ref at);
            }

            max = TS.Max(max, x);
        }

        var previous = m;
        var next = MathF.Max(previous, TS.MaxAcross(max));
        var sum = TS.Zero;
        for (var c = 0; c < Tile; c += lanes)
        {
            ref var at = ref Unsafe.Add(ref s, c);
            var p = TS.ExpMinus(TS.Load(ref at), next);
            TS.Store(p, ref at);
            sum = TS.Add(sum, p);
        }

        var alpha = float.IsNegativeInfinity(previous) ? 0f : MathF.Exp(previous - next);
        l = (l * alpha) + TS.Sum(sum);
        m = next;
        return alpha;
    }

    /// <summary>o[r] = α[r]·o[r] + Σ_{j &lt; keys} p[r, j]·v[j] for 4 rows; v rows have stride D.</summary>
    public static void Values4<TDim, TS, TV>(ref float p, ref float v, int keys, ref float o, ref float alpha)
        where TDim : struct, IHeadDim
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        var dim = TDim.Value;
        var l = TS.Lanes;
        var c = 0;
        for (; c + (4 * l) <= dim; c += 4 * l)
        {
            Values4x4<TDim, TS, TV>(ref p, ref Unsafe.Add(ref v, c), keys, ref Unsafe.Add(ref o, c), ref alpha);
        }

        for (; c + (2 * l) <= dim; c += 2 * l)
        {
            Values4x2<TDim, TS, TV>(ref p, ref Unsafe.Add(ref v, c), keys, ref Unsafe.Add(ref o, c), ref alpha);
        }

        for (; c < dim; c += l)
        {
            Values4x1<TDim, TS, TV>(ref p, ref Unsafe.Add(ref v, c), keys, ref Unsafe.Add(ref o, c), ref alpha);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Values4x4<TDim, TS, TV>(ref float p, ref float v, int keys, ref float o, ref float alpha)
        where TDim : struct, IHeadDim
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        var dim = TDim.Value;
        var l = TS.Lanes;
        ref var o1 = ref Unsafe.Add(ref o, dim);
        ref var o2 = ref Unsafe.Add(ref o, 2 * dim);
        ref var o3 = ref Unsafe.Add(ref o, 3 * dim);
        var b = TS.Broadcast(alpha);
        TV a00 = TS.Multiply(b, TS.Load(ref o)), a01 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o, l))), a02 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o, 2 * l))), a03 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o, 3 * l)));
        b = TS.Broadcast(Unsafe.Add(ref alpha, 1));
        TV a10 = TS.Multiply(b, TS.Load(ref o1)), a11 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o1, l))), a12 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o1, 2 * l))), a13 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o1, 3 * l)));
        b = TS.Broadcast(Unsafe.Add(ref alpha, 2));
        TV a20 = TS.Multiply(b, TS.Load(ref o2)), a21 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o2, l))), a22 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o2, 2 * l))), a23 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o2, 3 * l)));
        b = TS.Broadcast(Unsafe.Add(ref alpha, 3));
        TV a30 = TS.Multiply(b, TS.Load(ref o3)), a31 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o3, l))), a32 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o3, 2 * l))), a33 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o3, 3 * l)));
        ref var p1 = ref Unsafe.Add(ref p, Tile);
        ref var p2 = ref Unsafe.Add(ref p, 2 * Tile);
        ref var p3 = ref Unsafe.Add(ref p, 3 * Tile);
        for (var j = 0; j < keys; j++)
        {
            ref var vr = ref Unsafe.Add(ref v, j * dim);
            var v0 = TS.Load(ref vr);
            var v1 = TS.Load(ref Unsafe.Add(ref vr, l));
            var v2 = TS.Load(ref Unsafe.Add(ref vr, 2 * l));
            var v3 = TS.Load(ref Unsafe.Add(ref vr, 3 * l));
            b = TS.Broadcast(Unsafe.Add(ref p, j));
            a00 = TS.Fma(b, v0, a00);
            a01 = TS.Fma(b, v1, a01);
            a02 = TS.Fma(b, v2, a02);
            a03 = TS.Fma(b, v3, a03);
            b = TS.Broadcast(Unsafe.Add(ref p1, j));
            a10 = TS.Fma(b, v0, a10);
            a11 = TS.Fma(b, v1, a11);
            a12 = TS.Fma(b, v2, a12);
            a13 = TS.Fma(b, v3, a13);
            b = TS.Broadcast(Unsafe.Add(ref p2, j));
            a20 = TS.Fma(b, v0, a20);
            a21 = TS.Fma(b, v1, a21);
            a22 = TS.Fma(b, v2, a22);
            a23 = TS.Fma(b, v3, a23);
            b = TS.Broadcast(Unsafe.Add(ref p3, j));
            a30 = TS.Fma(b, v0, a30);
            a31 = TS.Fma(b, v1, a31);
            a32 = TS.Fma(b, v2, a32);
            a33 = TS.Fma(b, v3, a33);
        }

        Store4<TS, TV>(ref o, a00, a01, a02, a03);
        Store4<TS, TV>(ref o1, a10, a11, a12, a13);
        Store4<TS, TV>(ref o2, a20, a21, a22, a23);
        Store4<TS, TV>(ref o3, a30, a31, a32, a33);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Values4x2<TDim, TS, TV>(ref float p, ref float v, int keys, ref float o, ref float alpha)
        where TDim : struct, IHeadDim
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        var dim = TDim.Value;
        var l = TS.Lanes;
        ref var o1 = ref Unsafe.Add(ref o, dim);
        ref var o2 = ref Unsafe.Add(ref o, 2 * dim);
        ref var o3 = ref Unsafe.Add(ref o, 3 * dim);
        var b = TS.Broadcast(alpha);
        TV a00 = TS.Multiply(b, TS.Load(ref o)), a01 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o, l)));
        b = TS.Broadcast(Unsafe.Add(ref alpha, 1));
        TV a10 = TS.Multiply(b, TS.Load(ref o1)), a11 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o1, l)));
        b = TS.Broadcast(Unsafe.Add(ref alpha, 2));
        TV a20 = TS.Multiply(b, TS.Load(ref o2)), a21 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o2, l)));
        b = TS.Broadcast(Unsafe.Add(ref alpha, 3));
        TV a30 = TS.Multiply(b, TS.Load(ref o3)), a31 = TS.Multiply(b, TS.Load(ref Unsafe.Add(ref o3, l)));
        ref var p1 = ref Unsafe.Add(ref p, Tile);
        ref var p2 = ref Unsafe.Add(ref p, 2 * Tile);
        ref var p3 = ref Unsafe.Add(ref p, 3 * Tile);
        for (var j = 0; j < keys; j++)
        {
            ref var vr = ref Unsafe.Add(ref v, j * dim);
            var v0 = TS.Load(ref vr);
            var v1 = TS.Load(ref Unsafe.Add(ref vr, l));
            b = TS.Broadcast(Unsafe.Add(ref p, j));
            a00 = TS.Fma(b, v0, a00);
            a01 = TS.Fma(b, v1, a01);
            b = TS.Broadcast(Unsafe.Add(ref p1, j));
            a10 = TS.Fma(b, v0, a10);
            a11 = TS.Fma(b, v1, a11);
            b = TS.Broadcast(Unsafe.Add(ref p2, j));
            a20 = TS.Fma(b, v0, a20);
            a21 = TS.Fma(b, v1, a21);
            b = TS.Broadcast(Unsafe.Add(ref p3, j));
            a30 = TS.Fma(b, v0, a30);
            a31 = TS.Fma(b, v1, a31);
        }

        TS.Store(a00, ref o);
        TS.Store(a01, ref Unsafe.Add(ref o, l));
        TS.Store(a10, ref o1);
        TS.Store(a11, ref Unsafe.Add(ref o1, l));
        TS.Store(a20, ref o2);
        TS.Store(a21, ref Unsafe.Add(ref o2, l));
        TS.Store(a30, ref o3);
        TS.Store(a31, ref Unsafe.Add(ref o3, l));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Values4x1<TDim, TS, TV>(ref float p, ref float v, int keys, ref float o, ref float alpha)
        where TDim : struct, IHeadDim
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        var dim = TDim.Value;
        ref var o1 = ref Unsafe.Add(ref o, dim);
        ref var o2 = ref Unsafe.Add(ref o, 2 * dim);
        ref var o3 = ref Unsafe.Add(ref o, 3 * dim);
        var a0 = TS.Multiply(TS.Broadcast(alpha), TS.Load(ref o));
        var a1 = TS.Multiply(TS.Broadcast(Unsafe.Add(ref alpha, 1)), TS.Load(ref o1));
        var a2 = TS.Multiply(TS.Broadcast(Unsafe.Add(ref alpha, 2)), TS.Load(ref o2));
        var a3 = TS.Multiply(TS.Broadcast(Unsafe.Add(ref alpha, 3)), TS.Load(ref o3));
        for (var j = 0; j < keys; j++)
        {
            var vr = TS.Load(ref Unsafe.Add(ref v, j * dim));
            a0 = TS.Fma(TS.Broadcast(Unsafe.Add(ref p, j)), vr, a0);
            a1 = TS.Fma(TS.Broadcast(Unsafe.Add(ref p, Tile + j)), vr, a1);
            a2 = TS.Fma(TS.Broadcast(Unsafe.Add(ref p, (2 * Tile) + j)), vr, a2);
            a3 = TS.Fma(TS.Broadcast(Unsafe.Add(ref p, (3 * Tile) + j)), vr, a3);
        }

        TS.Store(a0, ref o);
        TS.Store(a1, ref o1);
        TS.Store(a2, ref o2);
        TS.Store(a3, ref o3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4<TS, TV>(ref float at, TV a0, TV a1, TV a2, TV a3)
        where TS : struct, ISimd<TV>
        where TV : struct
    {
        var l = TS.Lanes;
        TS.Store(a0, ref at);
        TS.Store(a1, ref Unsafe.Add(ref at, l));
        TS.Store(a2, ref Unsafe.Add(ref at, 2 * l));
        TS.Store(a3, ref Unsafe.Add(ref at, 3 * l));
    }
}
