using System.Runtime.Intrinsics.X86;
using Google.Protobuf;
using Onnx;

namespace SrMobile.Engine.Onnx;

/// <summary>
/// ONNX Runtime's x86 uint8×int8 kernels without VNNI (AVX2, AVX-512 BW) multiply with <c>vpmaddubsw</c>, which adds
/// two uint8·int8 products into a saturating int16: 255·127·2 overflows, and the int8 output is then wrong in a
/// quarter of its values (measured on an AVX2-only AMD EPYC: 78 % of values identical to fake-quant). Its uint8×uint8
/// kernels widen first and never saturate. So on such a CPU the engine runs each symmetric int8 weight (zero point 0)
/// as uint8 with zero point 128: w + 128 − 128 is the same number, the graph computes the same thing, and the stored
/// model stays the one every device gets. With VNNI (or on ARM) the model runs as it is.
/// </summary>
public static class SaturatingKernels
{
    /// <summary>This process runs on an x86 CPU whose uint8×int8 kernels saturate (no AVX-VNNI, no AVX-512 VNNI).</summary>
    public static bool Here { get; } = X86Base.IsSupported && !AvxVnni.IsSupported && !CpuFlag("avx512_vnni");

    /// <summary>
    /// Rewrites every int8 weight initializer with all-zero int8 zero points, as a DequantizeLinear reads it, into
    /// uint8 with zero point 128. Returns how many weights changed.
    /// </summary>
    public static int WidenWeights(ModelProto model)
    {
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name);
        var changed = 0;
        foreach (var node in model.Graph.Node.Where(n => n.OpType == "DequantizeLinear" && n.Input.Count == 3))
        {
            if (!initializers.TryGetValue(node.Input[0], out var weight) || !initializers.TryGetValue(node.Input[2], out var zero)
                || weight.DataType != (int)TensorProto.Types.DataType.Int8 || zero.DataType != (int)TensorProto.Types.DataType.Int8
                || weight.Dims.Count != 4 || Values(zero).Any(v => v != 0))
                continue;
            Widen(weight);
            Widen(zero);
            changed++;
        }
        return changed;
    }

    private static void Widen(TensorProto tensor)
    {
        var values = Values(tensor);
        tensor.Int32Data.Clear();
        tensor.DataType = (int)TensorProto.Types.DataType.Uint8;
        tensor.RawData = ByteString.CopyFrom([.. values.Select(v => (byte)(v + 128))]);
    }

    private static sbyte[] Values(TensorProto tensor) =>
        tensor.RawData.Length > 0 ? [.. tensor.RawData.Span.ToArray().Select(b => (sbyte)b)] : [.. tensor.Int32Data.Select(v => (sbyte)v)];

    private static bool CpuFlag(string flag)
    {
        try
        {
            return File.Exists("/proc/cpuinfo") && File.ReadLines("/proc/cpuinfo")
                .FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(' ').Contains(flag) == true;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
