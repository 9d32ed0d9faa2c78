using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using SrMobile.Engine.Imaging;

namespace SrMobile.Engine.Onnx;

/// <summary>How a model is run: threads, execution provider, tiling, and where to save the graph ORT optimised.</summary>
public sealed record EngineOptions
{
    public int Threads { get; init; } = 1;

    /// <summary><c>cpu</c> (default) or <c>xnnpack</c>.</summary>
    public string Provider { get; init; } = "cpu";

    /// <summary>Process images larger than this many LR pixels a side in overlapping tiles; 0 = whole images.</summary>
    public int TileSize { get; init; }

    /// <summary>When set, ORT writes the graph it actually runs here (at the extended level: portable).</summary>
    public string? OptimizedModelPath { get; init; }

    /// <summary>The exact rewrites made before ORT loads the model (<see cref="GraphFit"/>); null: what this CPU gets (<see cref="GraphFitting.Host"/>).</summary>
    public GraphFit? Fit { get; init; }

    /// <summary>When set, ORT times every node of every run into a JSON file whose name starts with this (<see cref="SrEngine.EndProfiling"/>).</summary>
    public string? ProfilePrefix { get; init; }
}

/// <summary>
/// The int8 (or float) engine every latency and accuracy number comes from: an ONNX Runtime session loaded once
/// for N×3×H×W models with uint8 or float input, run on many images with buffers reused between same-sized
/// runs. Tiles overlap by the network's receptive radius, so a tiled run equals a whole-image run exactly.
/// </summary>
public sealed class SrEngine : IDisposable
{
    private readonly InferenceSession session;
    private readonly RunOptions runOptions = new();
    private readonly string inputName;
    private readonly string outputName;
    private Buffers? buffers;

    private SrEngine(InferenceSession session, string path, EngineOptions options, int receptiveRadius, GraphFit fitted)
    {
        Fitted = fitted;
        this.session = session;
        ModelPath = path;
        Options = options;
        ReceptiveRadius = receptiveRadius;
        var input = session.InputMetadata.Single();
        inputName = input.Key;
        outputName = session.OutputMetadata.First().Key;
        InputIsUInt8 = input.Value.ElementDataType == TensorElementType.UInt8;
        OutputIsUInt8 = session.OutputMetadata.First().Value.ElementDataType == TensorElementType.UInt8;
        Scale = ProbeScale();
    }

    public string ModelPath { get; }
    public EngineOptions Options { get; }

    /// <summary>The rewrites the stored graph got before ORT loaded it (those of <see cref="EngineOptions.Fit"/> that changed something).</summary>
    public GraphFit Fitted { get; }

    public int Scale { get; }
    public bool InputIsUInt8 { get; }
    public bool OutputIsUInt8 { get; }

    /// <summary>Pixels of context each output pixel depends on (one per 3×3 convolution).</summary>
    public int ReceptiveRadius { get; }

    public static string RuntimeVersion => OrtEnv.Instance().GetVersionString();

    /// <summary>The execution providers this build of ONNX Runtime offers (the engine runs on the CPU one).</summary>
    public static IReadOnlyList<string> ExecutionProviders() => OrtEnv.Instance().GetAvailableProviders();

    public static SrEngine Load(string path, EngineOptions? options = null)
    {
        options ??= new EngineOptions();
        if (!File.Exists(path))
            throw new BadInputException($"{path}: ONNX model does not exist");
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(InputFile.ReadBytes(path, "ONNX model"));
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw new BadInputException($"{path}: not an ONNX model, or a truncated one ({e.Message})", e);
        }
        if (model.Graph is null || model.Graph.Node.Count == 0)
            throw new BadInputException($"{path}: ONNX model has no graph");
        var radius = model.Graph.Node.Count(n => n.OpType is "Conv" or "QLinearConv");
        // The bytes ORT gets: the file's own, or the graph fitted to this CPU's kernels, its weights widened where
        // this CPU's int8 kernels saturate (that is for correct values, so it is not part of the fit one may turn off).
        var fitted = GraphFitting.Apply(model, options.Fit ?? GraphFitting.Host);
        var widened = SaturatingKernels.Here && SaturatingKernels.WidenWeights(model) > 0;
        var bytes = fitted != GraphFit.None || widened ? model.ToByteArray() : null;

        var sessionOptions = new SessionOptions
        {
            IntraOpNumThreads = Math.Max(1, options.Threads),
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = options.OptimizedModelPath is null ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        };
        // A pool thread that spins after each parallel section holds a core: with several sessions measured
        // interleaved, an idle session's spinning thread slowed the running one (2 threads, 2 cores: int8 30.9 ms
        // interleaved with a float session, 21.4 alone; without spinning 19.4 and 18.9; docs/BENCHMARKS.md).
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        if (options.OptimizedModelPath is not null)
            sessionOptions.OptimizedModelFilePath = options.OptimizedModelPath;
        if (options.ProfilePrefix is not null)
        {
            // The prefix first: enabling reads it.
            sessionOptions.ProfileOutputPathPrefix = options.ProfilePrefix;
            sessionOptions.EnableProfiling = true;
        }
        switch (options.Provider)
        {
            case "cpu":
                break;
            case "xnnpack":
                try
                {
                    sessionOptions.AppendExecutionProvider("XNNPACK", new Dictionary<string, string> { ["intra_op_num_threads"] = options.Threads.ToString() });
                }
                catch (OnnxRuntimeException e)
                {
                    throw new BadInputException($"--provider xnnpack: this ONNX Runtime build has no XNNPACK execution provider ({e.Message})", e);
                }
                break;
            default:
                throw new BadInputException($"--provider must be cpu or xnnpack, not '{options.Provider}'");
        }

        InferenceSession session;
        try
        {
            session = bytes is null ? new InferenceSession(path, sessionOptions) : new InferenceSession(bytes, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new BadInputException($"{path}: ONNX Runtime cannot load this model: {e.Message}", e);
        }
        var inputs = session.InputMetadata;
        if (inputs.Count != 1 || session.OutputMetadata.Count < 1)
        {
            session.Dispose();
            throw new BadInputException($"{path}: model must have one input and an output, it has {inputs.Count} inputs");
        }
        var (name, meta) = inputs.Single();
        var dims = meta.Dimensions;
        if (dims.Length != 4 || (dims[1] != 3) || meta.ElementDataType is not (TensorElementType.UInt8 or TensorElementType.Float))
        {
            session.Dispose();
            throw new BadInputException($"{path}: input '{name}' is {meta.ElementDataType} [{string.Join(',', dims)}]; an SR model takes uint8 or float N×3×H×W");
        }
        return new SrEngine(session, path, options, radius, fitted);
    }

    /// <summary>SR of one image (gray is run as three equal channels and returned gray, as the float path does).</summary>
    public Image8 Upscale(Image8 low)
    {
        var rgb = low.ToRgb();
        var result = Options.TileSize > 0 && (rgb.Width > Options.TileSize || rgb.Height > Options.TileSize)
            ? Tiled(rgb)
            : Run(rgb);
        return low.IsGray ? ToGray(result) : result;
    }

    /// <summary>One run on an H×W RGB image (no tiling): the unit the latency protocol times.</summary>
    public Image8 Run(Image8 rgb)
    {
        if (rgb.Channels != 3)
            throw new BadInputException($"image has {rgb.Channels} channels; the engine runs 3-channel RGB");
        var b = Prepare(rgb.Width, rgb.Height);
        var plane = rgb.Width * rgb.Height;
        for (var i = 0; i < plane; i++)
        {
            for (var c = 0; c < 3; c++)
            {
                if (InputIsUInt8)
                    b.InputBytes![(c * plane) + i] = rgb.Pixels[(3 * i) + c];
                else
                    b.InputFloats![(c * plane) + i] = rgb.Pixels[(3 * i) + c];
            }
        }
        session.Run(runOptions, [inputName], [b.Input], [outputName], [b.Output]);
        var width = rgb.Width * Scale;
        var height = rgb.Height * Scale;
        var outPlane = width * height;
        var pixels = new byte[outPlane * 3];
        for (var i = 0; i < outPlane; i++)
        {
            for (var c = 0; c < 3; c++)
            {
                pixels[(3 * i) + c] = OutputIsUInt8
                    ? b.OutputBytes![(c * outPlane) + i]
                    : MatlabResize.ToByte(b.OutputFloats![(c * outPlane) + i]);
            }
        }
        return new Image8(width, height, 3, pixels);
    }

    /// <summary>Runs on a zero image of the given size; for timing, with input and output buffers already in place.</summary>
    public void RunBlank(int width, int height)
    {
        var b = Prepare(width, height);
        session.Run(runOptions, [inputName], [b.Input], [outputName], [b.Output]);
    }

    /// <summary>Ends the profile of a session loaded with <see cref="EngineOptions.ProfilePrefix"/>; returns its file (see <see cref="OnnxProfile"/>).</summary>
    public string EndProfiling() => Options.ProfilePrefix is null
        ? throw new InvalidOperationException($"{ModelPath}: the session was loaded without profiling")
        : session.EndProfiling();

    public void Dispose()
    {
        buffers?.Dispose();
        runOptions.Dispose();
        session.Dispose();
    }

    private Image8 Tiled(Image8 rgb)
    {
        var tile = Options.TileSize;
        var margin = ReceptiveRadius;
        var result = new Image8(rgb.Width * Scale, rgb.Height * Scale, 3);
        for (var y = 0; y < rgb.Height; y += tile)
        {
            for (var x = 0; x < rgb.Width; x += tile)
            {
                var width = Math.Min(tile, rgb.Width - x);
                var height = Math.Min(tile, rgb.Height - y);
                var left = Math.Max(0, x - margin);
                var top = Math.Max(0, y - margin);
                var right = Math.Min(rgb.Width, x + width + margin);
                var bottom = Math.Min(rgb.Height, y + height + margin);
                var output = Run(rgb.Crop(left, top, right - left, bottom - top));
                var inner = output.Crop((x - left) * Scale, (y - top) * Scale, width * Scale, height * Scale);
                for (var row = 0; row < inner.Height; row++)
                    Array.Copy(inner.Pixels, row * inner.Width * 3, result.Pixels, ((((y * Scale) + row) * result.Width) + (x * Scale)) * 3, inner.Width * 3);
            }
        }
        return result;
    }

    private static Image8 ToGray(Image8 rgb)
    {
        var gray = new byte[rgb.Width * rgb.Height];
        for (var i = 0; i < gray.Length; i++)
            gray[i] = MatlabResize.ToByte((rgb.Pixels[3 * i] + rgb.Pixels[(3 * i) + 1] + rgb.Pixels[(3 * i) + 2]) / 3.0);
        return new Image8(rgb.Width, rgb.Height, 1, gray);
    }

    private int ProbeScale()
    {
        const int Probe = 8;
        var b = Prepare(Probe, Probe, scale: 0);
        using var outputs = session.Run(runOptions, [inputName], [b.Input], [outputName]);
        var shape = outputs[0].GetTensorTypeAndShape().Shape;
        buffers!.Dispose();
        buffers = null;
        if (shape.Length != 4 || shape[1] != 3 || shape[2] % Probe != 0 || shape[2] / Probe != shape[3] / Probe)
            throw new BadInputException($"{ModelPath}: output is [{string.Join(',', shape)}] for an {Probe}x{Probe} input; an SR model gives N×3×sH×sW");
        return (int)(shape[2] / Probe);
    }

    private Buffers Prepare(int width, int height, int? scale = null)
    {
        if (buffers is { } existing && existing.Width == width && existing.Height == height)
            return existing;
        buffers?.Dispose();
        buffers = new Buffers(width, height, scale ?? Scale, InputIsUInt8, OutputIsUInt8);
        return buffers;
    }

    /// <summary>Input and output arrays for one image size, pinned as OrtValues, reused while the size holds.</summary>
    private sealed class Buffers : IDisposable
    {
        public Buffers(int width, int height, int scale, bool inputBytes, bool outputBytes)
        {
            Width = width;
            Height = height;
            long[] inputShape = [1, 3, height, width];
            if (inputBytes)
                Input = OrtValue.CreateTensorValueFromMemory(InputBytes = new byte[3 * width * height], inputShape);
            else
                Input = OrtValue.CreateTensorValueFromMemory(InputFloats = new float[3 * width * height], inputShape);
            long[] outputShape = [1, 3, height * scale, width * scale];
            var outputs = 3L * width * height * scale * scale;
            if (scale == 0)
                Output = null!;
            else if (outputBytes)
                Output = OrtValue.CreateTensorValueFromMemory(OutputBytes = new byte[outputs], outputShape);
            else
                Output = OrtValue.CreateTensorValueFromMemory(OutputFloats = new float[outputs], outputShape);
        }

        public int Width { get; }
        public int Height { get; }
        public OrtValue Input { get; }
        public OrtValue Output { get; }
        public byte[]? InputBytes { get; }
        public float[]? InputFloats { get; }
        public byte[]? OutputBytes { get; }
        public float[]? OutputFloats { get; }

        public void Dispose()
        {
            Input.Dispose();
            Output?.Dispose();
        }
    }
}
