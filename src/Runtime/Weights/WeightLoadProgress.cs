namespace Wudao;

/// <summary>Where a weight load is, for a progress display: reported after each tensor is read.</summary>
/// <param name="Tensor">The tensor just read.</param>
/// <param name="TensorsRead">Tensors read so far, this one included.</param>
/// <param name="Tensors">Tensors in the file.</param>
/// <param name="BytesRead">Bytes of tensor data read so far (as stored in the file).</param>
/// <param name="Bytes">Bytes of tensor data in the file.</param>
public readonly record struct WeightLoadProgress(string Tensor, int TensorsRead, int Tensors, long BytesRead, long Bytes)
{
    /// <summary>The fraction of the file's tensor bytes read, in [0, 1].</summary>
    public double Fraction => Bytes == 0 ? 1 : (double)BytesRead / Bytes;
}
