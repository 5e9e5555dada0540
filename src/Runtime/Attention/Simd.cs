using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Wudao.Attention;

/// <summary>
/// The few vector operations the attention micro-kernels use, over one vector width. The kernels
/// are generic over a struct implementing it, so one source gives an AVX-512 body and a 256-bit
/// body (which .NET also runs, emulated, where neither is accelerated).
/// </summary>
internal interface ISimd<TVec>
    where TVec : struct
{
    static abstract int Lanes { get; }

    static abstract TVec Zero { get; }

    static abstract TVec Load(ref float source);

    static abstract void Store(TVec value, ref float destination);

    static abstract TVec Broadcast(float value);

    /// <summary>a·b + c.</summary>
    static abstract TVec Fma(TVec a, TVec b, TVec c);

    static abstract TVec Add(TVec a, TVec b);

    static abstract TVec Multiply(TVec a, TVec b);

    static abstract TVec Max(TVec a, TVec b);

    static abstract float MaxAcross(TVec value);

    static abstract float Sum(TVec value);

    /// <summary>e^(x − m), lane-wise; .NET's vector exp is accurate to a few ulp.</summary>
    static abstract TVec ExpMinus(TVec x, float m);

    /// <summary>Lanes whose key index (first + lane) is at or past <paramref name="limit"/> become −∞.</summary>
    static abstract TVec MaskFrom(TVec value, int first, int limit);
}

internal readonly struct Simd512 : ISimd<Vector512<float>>
{
    public static int Lanes => Vector512<float>.Count;

    public static Vector512<float> Zero => Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref float source) => Vector512.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref float destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector512<float> value) => Simd256.MaxAcross(Vector256.Max(value.GetLower(), value.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> value) => Vector512.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpMinus(Vector512<float> x, float m) => Vector512.Exp(x - Vector512.Create(m));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MaskFrom(Vector512<float> value, int first, int limit)
    {
        var index = Vector512.Create(first) + Vector512<int>.Indices;
        return Vector512.ConditionalSelect(Vector512.LessThan(index, Vector512.Create(limit)).AsSingle(), value, Vector512.Create(float.NegativeInfinity));
    }
}

internal readonly struct Simd256 : ISimd<Vector256<float>>
{
    public static int Lanes => Vector256<float>.Count;

    public static Vector256<float> Zero => Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(ref float source) => Vector256.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> value, ref float destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector256<float> value)
    {
        var half = Vector128.Max(value.GetLower(), value.GetUpper());
        var pair = Vector128.Max(half, Vector128.Shuffle(half, Vector128.Create(2, 3, 0, 1)));
        return System.MathF.Max(pair.GetElement(0), pair.GetElement(1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> value) => Vector256.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpMinus(Vector256<float> x, float m) => Vector256.Exp(x - Vector256.Create(m));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MaskFrom(Vector256<float> value, int first, int limit)
    {
        var index = Vector256.Create(first) + Vector256<int>.Indices;
        return Vector256.ConditionalSelect(Vector256.LessThan(index, Vector256.Create(limit)).AsSingle(), value, Vector256.Create(float.NegativeInfinity));
    }
}
