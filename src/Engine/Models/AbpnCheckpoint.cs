using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SrMobile.Engine.Models;

/// <summary>What a checkpoint says about itself, stored as JSON inside the file.</summary>
public sealed record CheckpointMetadata
{
    public string Family { get; init; } = AbpnArchitecture.Family;
    public required int Scale { get; init; }
    public required int Depth { get; init; }
    public required int Width { get; init; }

    /// <summary>
    /// The trained parameters see the conv path as x·InputScale and return residual·ResidualScale (1/255 and
    /// 255 train well; 1 and 1 is the seed's raw form). <see cref="AbpnCheckpoint.SeedWeights"/> folds both into
    /// the first and last convolution, so exported networks are exactly the seed's.
    /// </summary>
    public double InputScale { get; init; } = 1;
    public double ResidualScale { get; init; } = 1;

    /// <summary>Set for quantization-aware checkpoints: the activation ranges the int8 graph must use.</summary>
    public QuantizationMetadata? Quantization { get; init; }

    /// <summary>Training steps done when this was written.</summary>
    public long Iteration { get; init; }
    public string? RunName { get; init; }
    public DateTimeOffset CreatedUtc { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>Validation results at <see cref="Iteration"/>, by name (e.g. <c>psnr_y</c>).</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];

    /// <summary>Trainer state needed to resume exactly (seed, best score so far, …), opaque to the Engine.</summary>
    public Dictionary<string, string> Trainer { get; init; } = [];

    [JsonIgnore]
    public AbpnArchitecture Architecture => new(Scale, Depth, Width);
}

/// <summary>QAT state: activation type, per-convolution-output [min, max], and whether observation has stopped.</summary>
public sealed record QuantizationMetadata(string Activations, IReadOnlyList<double[]> Ranges, bool Frozen)
{
    public Onnx.ActivationType ActivationType => Activations == "int8" ? Onnx.ActivationType.Int8 : Onnx.ActivationType.UInt8;

    public IReadOnlyList<Onnx.TensorRange> TensorRanges() => Ranges.Select(r => new Onnx.TensorRange(r[0], r[1])).ToList();
}

/// <summary>
/// A trained ABPN: metadata, named float parameters, and optionally the optimizer state needed to resume.
/// Single file: magic, JSON, tensors, optimizer bytes, SHA-256 of all before it; written to a temporary file and
/// renamed, so a crash or Ctrl-C never leaves a half-written checkpoint where the last good one was.
/// </summary>
public sealed record AbpnCheckpoint(CheckpointMetadata Metadata, IReadOnlyList<NamedTensor> Parameters, byte[]? OptimizerState = null)
{
    private static readonly byte[] Magic = "SRMCKPT1"u8.ToArray();
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string WeightName(int convolution) => $"conv.{convolution}.weight";

    public static string BiasName(int convolution) => $"conv.{convolution}.bias";

    public AbpnArchitecture Architecture => Metadata.Architecture;

    public NamedTensor this[string name] =>
        Parameters.FirstOrDefault(p => p.Name == name) ?? throw new KeyNotFoundException($"checkpoint has no tensor {name}");

    /// <summary>
    /// The seed network's own weights (OIHW, biases) for raw 0..255 input: the conv-path scales folded into the
    /// first convolution's weights (× InputScale) and the last one's weights and bias (× ResidualScale).
    /// Exact because ReLU is positively homogeneous.
    /// </summary>
    public IReadOnlyList<NamedTensor> SeedWeights()
    {
        var last = Architecture.ConvolutionCount - 1;
        return Parameters.Select(p =>
        {
            var factor = 1.0;
            if (p.Name == WeightName(0))
                factor *= Metadata.InputScale;
            if (p.Name == WeightName(last) || p.Name == BiasName(last))
                factor *= Metadata.ResidualScale;
            return factor == 1.0 ? p : p with { Values = p.Values.Select(v => (float)(v * factor)).ToArray() };
        }).ToList();
    }

    public void Save(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
                var body = Serialize();
                file.Write(body);
                file.Write(SHA256.HashData(body));
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
        }
    }

    public static AbpnCheckpoint Load(string path)
    {
        var bytes = InputFile.ReadBytes(path, "checkpoint");
        if (bytes.Length < Magic.Length + 32 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new BadInputException($"{path}: not an SrMobile checkpoint (no {Encoding.ASCII.GetString(Magic)} header)");
        var body = bytes.AsSpan(0, bytes.Length - 32);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32)))
            throw new BadInputException($"{path}: checkpoint is truncated or corrupt (SHA-256 mismatch)");
        try
        {
            return Deserialize(body.ToArray(), path);
        }
        catch (Exception e) when (e is EndOfStreamException or JsonException or ArgumentException or InvalidDataException)
        {
            throw new BadInputException($"{path}: checkpoint is malformed: {e.Message}", e);
        }
    }

    private byte[] Serialize()
    {
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream, Encoding.UTF8);
        writer.Write(Magic);
        var json = JsonSerializer.SerializeToUtf8Bytes(Metadata, Json);
        writer.Write(json.Length);
        writer.Write(json);
        writer.Write(Parameters.Count);
        foreach (var tensor in Parameters)
        {
            writer.Write(tensor.Name);
            writer.Write(tensor.Shape.Length);
            foreach (var dimension in tensor.Shape)
                writer.Write(dimension);
            writer.Write(tensor.Values.Length);
            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(tensor.Values.AsSpan()));
        }
        writer.Write(OptimizerState?.Length ?? -1);
        if (OptimizerState is not null)
            writer.Write(OptimizerState);
        writer.Flush();
        return stream.ToArray();
    }

    private static AbpnCheckpoint Deserialize(byte[] body, string path)
    {
        using var reader = new BinaryReader(new MemoryStream(body), Encoding.UTF8);
        reader.ReadBytes(Magic.Length);
        var metadata = JsonSerializer.Deserialize<CheckpointMetadata>(reader.ReadBytes(reader.ReadInt32()), Json)
            ?? throw new InvalidDataException("empty metadata");
        if (metadata.Family != AbpnArchitecture.Family)
            throw new BadInputException($"{path}: checkpoint is a '{metadata.Family}' model, not {AbpnArchitecture.Family}");
        var count = reader.ReadInt32();
        var tensors = new List<NamedTensor>(count);
        for (var i = 0; i < count; i++)
        {
            var name = reader.ReadString();
            var shape = new long[reader.ReadInt32()];
            for (var d = 0; d < shape.Length; d++)
                shape[d] = reader.ReadInt64();
            var values = new float[reader.ReadInt32()];
            var read = reader.Read(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            if (read != values.Length * sizeof(float))
                throw new EndOfStreamException($"tensor {name} is cut short");
            tensors.Add(new NamedTensor(name, shape, values));
        }
        var optimizerLength = reader.ReadInt32();
        var optimizer = optimizerLength >= 0 ? reader.ReadBytes(optimizerLength) : null;
        var checkpoint = new AbpnCheckpoint(metadata, tensors, optimizer);
        checkpoint.CheckShapes(path);
        return checkpoint;
    }

    /// <summary>Every convolution's weight and bias present with the shape the architecture implies.</summary>
    public void CheckShapes(string source)
    {
        var architecture = Architecture.Validate(source);
        for (var i = 0; i < architecture.ConvolutionCount; i++)
        {
            var (output, input) = architecture.ConvolutionChannels(i);
            Expect(WeightName(i), [output, input, 3, 3]);
            Expect(BiasName(i), [output]);
        }
        if (Parameters.Count != 2 * architecture.ConvolutionCount)
            throw new BadInputException($"{source}: {Parameters.Count} tensors where {architecture} has {2 * architecture.ConvolutionCount}");

        void Expect(string name, long[] shape)
        {
            var tensor = Parameters.FirstOrDefault(p => p.Name == name)
                ?? throw new BadInputException($"{source}: tensor {name} is missing for {architecture}");
            if (!tensor.Shape.SequenceEqual(shape) || tensor.Values.Length != tensor.ElementCount)
                throw new BadInputException($"{source}: tensor {name} has shape [{string.Join(',', tensor.Shape)}], {architecture} needs [{string.Join(',', shape)}]");
        }
    }
}
