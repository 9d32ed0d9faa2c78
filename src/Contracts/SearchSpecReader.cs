using System.Globalization;
using System.Numerics;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SrMobile.Contracts;

/// <summary>
/// Reads a search spec from YAML or JSON (JSON is YAML) and validates it, collecting every problem, each naming
/// its field, instead of stopping at the first: a spec with errors is never partly submitted. Every number has a
/// range (<see cref="SpecBounds"/>); the text's length and the grid's size have configurable limits (<see cref="SpecLimits"/>).
/// </summary>
public static partial class SearchSpecReader
{
    public static (SearchSpec? Spec, IReadOnlyList<SpecError> Errors) Parse(string text) => Parse(text, SpecLimits.Default);

    public static (SearchSpec? Spec, IReadOnlyList<SpecError> Errors) Parse(string text, SpecLimits limits)
    {
        // Before the YAML parser sees it: parsing is the costly part, and the text is what a submit would store.
        if (text.Length > limits.MaxSpecCharacters)
            return (null, [new SpecError("(spec)", $"is {text.Length:N0} characters long; the limit is {limits.MaxSpecCharacters:N0} (SrMobile:Limits:MaxSpecCharacters)")]);
        var errors = new List<SpecError>();
        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode mapping)
                return (null, [new SpecError("(spec)", "must be a mapping of keys to values")]);
            root = mapping;
        }
        catch (YamlException e)
        {
            return (null, [new SpecError($"(line {e.Start.Line})", $"not valid YAML or JSON: {e.Message}")]);
        }

        var r = new Reader(root, "", errors);
        var name = r.Text("name", required: true) ?? "";
        if (name.Length > 0 && !NamePattern().IsMatch(name))
            errors.Add(new SpecError("name", $"'{name}' must be 1–64 of a-z, 0-9, '-' and '_', starting with a letter or digit"));
        var scales = r.Ints("scales", required: true, check: v => v is 2 or 3 or 4 ? null : "must be 2, 3 or 4");
        var depths = r.Ints("depths", required: true, check: v => Bounded(v, 1, SpecBounds.MaxDepth));
        var widths = r.Ints("widths", required: true, check: v => Bounded(v, 1, SpecBounds.MaxWidth));

        foreach (var (field, values) in new[] { ("scales", scales), ("depths", depths), ("widths", widths) })
        {
            if (values.Distinct().Count() != values.Count)
                errors.Add(new SpecError(field, "lists a value twice (every grid point must be unique)"));
        }

        var quantization = new List<QuantizationRecipe>();
        foreach (var (recipe, index) in r.Mappings("quantization", required: true))
        {
            var kind = recipe.Text("kind", required: true);
            if (kind is not (null or "ptq" or "qat"))
                errors.Add(new SpecError($"quantization[{index}].kind", $"must be ptq or qat, not '{kind}'"));
            var method = recipe.Text("method") ?? "minmax";
            if (method is not ("minmax" or "percentile" or "mse"))
                errors.Add(new SpecError($"quantization[{index}].method", $"must be minmax, percentile or mse, not '{method}'"));
            var images = (int)InRange(recipe.Int("calibration_images") ?? 100, 1, SpecBounds.MaxCalibrationImages, $"quantization[{index}].calibration_images");
            var qatIterations = recipe.Long("iterations") ?? 20_000;
            var qatLr = recipe.Double("lr") ?? 1e-4;
            if (kind == "qat" && (qatIterations < 1 || !(qatLr > 0)))
                errors.Add(new SpecError($"quantization[{index}]", "qat needs iterations ≥ 1 and lr > 0"));
            else if (kind == "qat")
                InRange(qatIterations, 1, SpecBounds.MaxIterations, $"quantization[{index}].iterations");
            recipe.RejectUnknown();
            quantization.Add(new QuantizationRecipe(kind ?? "ptq", method, images, qatIterations, qatLr));
        }

        if (quantization.Select(q => q.Key).Distinct().Count() != quantization.Count)
            errors.Add(new SpecError("quantization", "lists the same recipe twice"));

        var t = r.Section("training");
        var training = new TrainingRecipe(
            InRange(t?.Long("iterations") ?? 20_000, 1, SpecBounds.MaxIterations, "training.iterations"),
            (int)InRange(t?.Int("batch_size") ?? 16, 1, SpecBounds.MaxBatchSize, "training.batch_size"),
            (int)InRange(t?.Int("patch_size") ?? 64, 1, SpecBounds.MaxPatchSize, "training.patch_size"),
            t?.Double("lr") ?? 1e-3,
            t?.Doubles("lr_milestones") ?? [0.6, 0.85]);
        if (!(training.LearningRate > 0))
            errors.Add(new SpecError("training.lr", $"must be positive, not {training.LearningRate}"));
        if (training.LearningRateMilestones.Any(m => m is <= 0 or >= 1))
            errors.Add(new SpecError("training.lr_milestones", "are fractions of the run, each between 0 and 1"));
        t?.RejectUnknown();

        var d = r.Section("datasets", required: true);
        var datasets = new SearchDatasets(d?.Text("train", required: true) ?? "", d?.Text("validation"), d?.Text("calibration"));
        d?.RejectUnknown();
        if (limits.DataRoots is { } roots)
            errors.AddRange(roots.Check(datasets));

        var devices = r.Texts("devices", required: true);
        if (devices.Distinct(StringComparer.Ordinal).Count() != devices.Count)
            errors.Add(new SpecError("devices", "lists a device key twice"));

        var p = r.Section("protocol");
        var size = p?.Text("input") ?? "360x640";
        var parts = size.Split('x');
        var (height, width) = parts.Length == 2 && int.TryParse(parts[0], out var h) && int.TryParse(parts[1], out var w) && h > 0 && w > 0 ? (h, w) : (0, 0);
        if (height == 0)
            errors.Add(new SpecError("protocol.input", $"must be HxW, e.g. 360x640, not '{size}'"));
        else if (height > SpecBounds.MaxInputSide || width > SpecBounds.MaxInputSide)
            errors.Add(new SpecError("protocol.input", $"{height}x{width} is larger than the limit of {SpecBounds.MaxInputSide}x{SpecBounds.MaxInputSide}"));
        var protocol = new MeasurementProtocol(height, width,
            (int)InRange(p?.Int("threads") ?? 1, 1, SpecBounds.MaxThreads, "protocol.threads"),
            (int)InRange(p?.Int("warmup") ?? 5, 0, SpecBounds.MaxWarmup, "protocol.warmup"),
            (int)InRange(p?.Int("min_runs") ?? 20, 1, SpecBounds.MaxRuns, "protocol.min_runs"),
            p?.Double("min_seconds") ?? 5,
            p?.Double("max_seconds") ?? 120);
        if (protocol.MinSeconds < 0)
            errors.Add(new SpecError("protocol.min_seconds", $"must be 0 or more, not {protocol.MinSeconds}"));
        if (protocol.MaxSeconds < protocol.MinSeconds)
            errors.Add(new SpecError("protocol.max_seconds", $"must be at least min_seconds ({protocol.MinSeconds}), not {protocol.MaxSeconds}"));
        else if (protocol.MaxSeconds > SpecBounds.MaxSeconds)
            errors.Add(new SpecError("protocol.max_seconds", $"must be at most {SpecBounds.MaxSeconds}, not {protocol.MaxSeconds}"));
        p?.RejectUnknown();

        var maxMilliseconds = new Dictionary<string, double>(StringComparer.Ordinal);
        var c = r.Section("constraints");
        var maxMs = c?.Section("max_ms");
        foreach (var key in maxMs?.Keys() ?? [])
        {
            var value = maxMs!.Double(key);
            if (!devices.Contains(key))
                errors.Add(new SpecError($"constraints.max_ms.{key}", "names no device listed in devices"));
            else if (value is not > 0)
                errors.Add(new SpecError($"constraints.max_ms.{key}", $"must be a positive number of milliseconds"));
            else
                maxMilliseconds[key] = value.Value;
        }
        c?.RejectUnknown();
        var activations = new Dictionary<string, string>(StringComparer.Ordinal);
        var a = r.Section("activations");
        foreach (var key in a?.Keys() ?? [])
        {
            var value = a!.Text(key);
            if (!devices.Contains(key))
                errors.Add(new SpecError($"activations.{key}", "names no device listed in devices"));
            else if (value is null || !ActivationTypes.All.Contains(value))
                errors.Add(new SpecError($"activations.{key}", $"must be {string.Join(" or ", ActivationTypes.All)}, not '{value}'"));
            else
                activations[key] = value;
        }
        var priority = (int)InRange(r.Int("priority") ?? 0, SpecBounds.MinPriority, SpecBounds.MaxPriority, "priority");
        var maiConstant = r.Double("mai_constant") ?? 1;
        if (!(maiConstant > 0) || double.IsInfinity(maiConstant))
            errors.Add(new SpecError("mai_constant", $"must be a positive number, not {maiConstant}"));
        var deviceTimeout = r.Double("device_timeout");
        if (deviceTimeout is { } timeout && !(timeout > 0 && double.IsFinite(timeout)))
            errors.Add(new SpecError("device_timeout", $"must be a positive number of seconds, not {timeout}"));
        r.RejectUnknown();

        // BigInteger: the product of four list lengths is never computed where it could overflow.
        var candidates = (BigInteger)scales.Count * depths.Count * widths.Count * quantization.Count;
        if (candidates > limits.MaxCandidates)
            errors.Add(new SpecError("(grid)", $"scales × depths × widths × quantization = {scales.Count} × {depths.Count} × {widths.Count} × {quantization.Count} = {candidates:N0} candidates; the limit is {limits.MaxCandidates:N0} (SrMobile:Limits:MaxCandidates)"));

        if (errors.Count > 0)
            return (null, errors);
        return (new SearchSpec(name, scales, depths, widths, quantization, training, datasets, devices, protocol, maxMilliseconds, priority, maiConstant, deviceTimeout, activations.Count > 0 ? activations : null), errors);

        long InRange(long value, long min, long max, string field)
        {
            if (Bounded(value, min, max) is { } problem)
                errors.Add(new SpecError(field, $"{problem}, not {value}"));
            return value;
        }
    }

    private static string? Bounded(long value, long min, long max) =>
        value < min ? $"must be at least {min}" : value > max ? $"must be at most {max}" : null;

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex NamePattern();

    /// <summary>A mapping read key by key; problems go to the shared list with their dotted path.</summary>
    private sealed class Reader(YamlMappingNode mapping, string prefix, List<SpecError> errors)
    {
        private readonly HashSet<string> read = new(StringComparer.Ordinal);

        public IEnumerable<string> Keys()
        {
            foreach (var key in mapping.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? ""))
            {
                read.Add(key);
                yield return key;
            }
        }

        public Reader? Section(string key, bool required = false)
        {
            var node = Find(key, required);
            if (node is null)
                return null;
            if (node is YamlMappingNode child)
                return new Reader(child, $"{prefix}{key}.", errors);
            Error(key, "must be a mapping of keys to values");
            return null;
        }

        public IEnumerable<(Reader Reader, int Index)> Mappings(string key, bool required)
        {
            var node = Find(key, required);
            if (node is null)
                yield break;
            if (node is not YamlSequenceNode sequence || sequence.Children.Count == 0)
            {
                Error(key, "must be a non-empty list");
                yield break;
            }
            for (var i = 0; i < sequence.Children.Count; i++)
            {
                if (sequence.Children[i] is YamlMappingNode item)
                    yield return (new Reader(item, $"{prefix}{key}[{i}].", errors), i);
                else
                    errors.Add(new SpecError($"{prefix}{key}[{i}]", "must be a mapping"));
            }
        }

        public string? Text(string key, bool required = false)
        {
            var node = Find(key, required);
            if (node is YamlScalarNode { Value: { Length: > 0 } value })
                return value;
            if (node is not null)
                Error(key, "must be a text value");
            return null;
        }

        public IReadOnlyList<string> Texts(string key, bool required) =>
            List<string>(key, required, node => node is YamlScalarNode { Value: { Length: > 0 } v } ? (v, null) : ("", "must be a text value"));

        public IReadOnlyList<int> Ints(string key, bool required, Func<int, string?> check) =>
            List<int>(key, required, node => node is YamlScalarNode { Value: { } v } && int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i)
                ? (i, check(i) is { } problem ? $"{i} {problem}" : null)
                : (0, "must be an integer"));

        public IReadOnlyList<double> Doubles(string key) =>
            List<double>(key, false, node => node is YamlScalarNode { Value: { } v } && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
                ? (d, null)
                : (0, "must be a number"));

        public int? Int(string key) => Scalar<int>(key, "an integer", v => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : null);

        public long? Long(string key) => Scalar<long>(key, "an integer", v => long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : null);

        public double? Double(string key) => Scalar<double>(key, "a number", v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : null);

        public void RejectUnknown()
        {
            foreach (var key in mapping.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? ""))
            {
                if (!read.Contains(key))
                    errors.Add(new SpecError(prefix + key, "unknown key"));
            }
        }

        private IReadOnlyList<T> List<T>(string key, bool required, Func<YamlNode, (T Value, string? Problem)> item)
        {
            var node = Find(key, required);
            if (node is null)
                return [];
            if (node is not YamlSequenceNode sequence || sequence.Children.Count == 0)
            {
                Error(key, "must be a non-empty list");
                return [];
            }
            var result = new List<T>();
            for (var i = 0; i < sequence.Children.Count; i++)
            {
                var (value, problem) = item(sequence.Children[i]);
                if (problem is not null)
                    errors.Add(new SpecError($"{prefix}{key}[{i}]", problem));
                else
                    result.Add(value);
            }
            return result;
        }

        private T? Scalar<T>(string key, string expected, Func<string, T?> parse)
            where T : struct
        {
            var node = Find(key, false);
            if (node is null)
                return null;
            if (node is YamlScalarNode { Value: { } text } && parse(text) is { } value)
                return value;
            Error(key, $"must be {expected}");
            return null;
        }

        private YamlNode? Find(string key, bool required)
        {
            read.Add(key);
            if (mapping.Children.TryGetValue(new YamlScalarNode(key), out var node))
                return node;
            if (required)
                Error(key, "is required");
            return null;
        }

        private void Error(string key, string message) => errors.Add(new SpecError(prefix + key, message));
    }
}
