using System.Text.Json;

namespace SrMobile.Engine.Onnx;

/// <summary>Time of one operator type over a run: its nodes, milliseconds per run, share of all node time, and for convolutions the multiply-add rate.</summary>
public sealed record OperatorTime(string OpType, int Nodes, double MillisecondsPerRun, double Share, double? GmacPerSecond);

/// <summary>Time of one node of the graph ORT really ran (after its optimizer: fused, re-laid-out nodes keep ORT's names).</summary>
public sealed record NodeTime(string Node, string OpType, double MillisecondsPerRun, double Share, double? GigaMacs, double? GmacPerSecond);

/// <summary>
/// An ONNX Runtime profile (<see cref="EngineOptions.ProfilePrefix"/>) summed per operator type and per node, over its
/// last <c>runs</c> runs (the ones before are warm-up). A convolution's multiply-adds are the run's pixels × those per
/// output pixel of the source model's convolution the node came from (<see cref="ConvolutionKernels"/>): every
/// convolution of an ABPN runs at stride 1 on the LR size. They are not read from the shapes ORT records: it drops
/// prepacked weights from them and pads channels to its block size, which would count work no output needs.
/// </summary>
public sealed record OnnxProfile(int Runs, double MillisecondsPerRun, double NodeMillisecondsPerRun, IReadOnlyList<OperatorTime> Operators, IReadOnlyList<NodeTime> Nodes)
{
    private static readonly HashSet<string> Convolutions = ["Conv", "FusedConv", "QLinearConv", "NhwcFusedConv", "NhwcConv", "ConvInteger"];

    public static OnnxProfile Read(string path, int runs, IReadOnlyDictionary<string, long> kernels, long pixels)
    {
        using var document = ParseFile(path);
        var events = document.RootElement.EnumerateArray().ToList();
        var all = events.Where(e => Text(e, "cat") == "Session" && Text(e, "name") == "model_run")
            .Select(e => (Start: e.GetProperty("ts").GetInt64(), Duration: e.GetProperty("dur").GetInt64())).OrderBy(r => r.Start).ToList();
        if (all.Count < runs || runs < 1)
            throw new BadInputException($"{path}: the profile holds {all.Count} run(s), fewer than the {runs} to summarise");
        var kept = all[^runs..];
        var from = kept[0].Start;
        var times = events.Where(e => Text(e, "cat") == "Node" && Text(e, "name")?.EndsWith("_kernel_time", StringComparison.Ordinal) == true
                && e.GetProperty("ts").GetInt64() >= from)
            .Select(e => (Node: Text(e, "name")![..^"_kernel_time".Length], OpType: Text(e.GetProperty("args"), "op_name") ?? "?",
                Milliseconds: e.GetProperty("dur").GetInt64() / 1000.0, Macs: Macs(Text(e, "name")!, e.GetProperty("args"), kernels, pixels)))
            .ToList();
        var total = times.Sum(k => k.Milliseconds);
        double PerRun(double milliseconds) => milliseconds / runs;
        double? Rate(double? macsPerRun, double milliseconds) => macsPerRun is { } macs && milliseconds > 0 ? macs / (PerRun(milliseconds) / 1000) / 1e9 : null;
        var nodes = times.GroupBy(k => (k.Node, k.OpType))
            .Select(g => (g.Key.Node, g.Key.OpType, Milliseconds: g.Sum(k => k.Milliseconds), Macs: g.First().Macs))
            .Select(n => new NodeTime(n.Node, n.OpType, PerRun(n.Milliseconds), n.Milliseconds / total, n.Macs / 1e9, Rate(n.Macs, n.Milliseconds)))
            .OrderByDescending(n => n.MillisecondsPerRun).ToList();
        var operators = times.GroupBy(k => k.OpType)
            .Select(g =>
            {
                var milliseconds = g.Sum(k => k.Milliseconds);
                var macsPerRun = g.All(k => k.Macs is not null) ? g.Sum(k => k.Macs!.Value) / runs : (double?)null;
                return new OperatorTime(g.Key, g.Select(k => k.Node).Distinct().Count(), PerRun(milliseconds), milliseconds / total, Rate(macsPerRun, milliseconds));
            })
            .OrderByDescending(o => o.MillisecondsPerRun).ToList();
        return new OnnxProfile(runs, kept.Average(r => r.Duration) / 1000.0, PerRun(total), operators, nodes);
    }

    private static JsonDocument ParseFile(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new BadInputException($"{path}: not an ONNX Runtime profile ({e.Message})", e);
        }
    }

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>
    /// Multiply-adds per output pixel of every convolution of the model at <paramref name="modelPath"/>, by node name
    /// (and by the output of an activation it may be fused with): output channels × input channels per group × kernel
    /// height × width of its weight (an initializer, or the initializer a DequantizeLinear turns into it in a QDQ graph).
    /// </summary>
    public static IReadOnlyDictionary<string, long> ConvolutionKernels(string modelPath)
    {
        var graph = global::Onnx.ModelProto.Parser.ParseFrom(InputFile.ReadBytes(modelPath, "ONNX model")).Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name, i => i.Dims);
        var dequantized = graph.Node.Where(n => n.OpType == "DequantizeLinear").ToDictionary(n => n.Output[0], n => n.Input[0]);
        var kernels = new Dictionary<string, long>();
        foreach (var node in graph.Node.Where(n => n.OpType is "Conv" or "QLinearConv"))
        {
            var weight = node.Input[node.OpType == "QLinearConv" ? 3 : 1];
            if (!initializers.TryGetValue(dequantized.GetValueOrDefault(weight, weight), out var dims) || dims.Count != 4)
                continue;
            var macs = dims[0] * dims[1] * dims[2] * dims[3];
            kernels[node.Name] = macs;
            // ORT's Conv+activation fusion names the fused node after the activation's output (relu0 → relu0_nchwc).
            foreach (var activation in graph.Node.Where(n => n.OpType is "Relu" or "Clip" or "LeakyRelu" or "Sigmoid" && n.Input.Count > 0 && n.Input[0] == node.Output[0]))
                kernels[activation.Output[0]] = macs;
        }
        return kernels;
    }

    /// <summary>Multiply-adds of a convolution node: the pixels × those of the source convolution its name starts with; null for other nodes.</summary>
    private static double? Macs(string eventName, JsonElement args, IReadOnlyDictionary<string, long> kernels, long pixels)
    {
        if (Text(args, "op_name") is not { } op || !Convolutions.Contains(op))
            return null;
        var source = kernels.Where(k => eventName.StartsWith(k.Key, StringComparison.Ordinal)).OrderByDescending(k => k.Key.Length).FirstOrDefault();
        return source.Key is null ? null : (double)source.Value * pixels;
    }
}
