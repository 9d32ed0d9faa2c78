using System.Globalization;
using SrMobile.Engine;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SrMobile.Training.Options;

/// <summary>
/// A YAML mapping read with its location: every value is fetched by key path, with an error that names the file,
/// line and field when it is missing or of the wrong type, and <see cref="RejectUnknownKeys"/> names any key
/// nobody asked for (a typo must never be silently ignored).
/// </summary>
public sealed class YamlOptions
{
    private readonly string file;
    private readonly YamlMappingNode mapping;
    private readonly string prefix;
    private readonly HashSet<string> known = new(StringComparer.Ordinal);
    private readonly List<YamlOptions> children = [];

    private YamlOptions(string file, YamlMappingNode mapping, string prefix)
    {
        this.file = file;
        this.mapping = mapping;
        this.prefix = prefix;
    }

    public static YamlOptions Load(string path)
    {
        if (!File.Exists(path))
            throw new BadInputException($"{path}: options file does not exist");
        return Parse(InputFile.ReadText(path, "options file"), path);
    }

    public static YamlOptions Parse(string text, string file)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new BadInputException($"{file}:{e.Start.Line}:{e.Start.Column}: not valid YAML: {e.Message}", e);
        }
        if (stream.Documents.Count == 0)
            return new YamlOptions(file, new YamlMappingNode(), "");
        if (stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new BadInputException($"{file}: options must be a mapping of keys to values");
        return new YamlOptions(file, root, "");
    }

    public string FilePath => file;

    public bool Has(string key) => Find(key) is not null;

    public YamlOptions? Section(string key)
    {
        var node = Find(key);
        if (node is null or YamlScalarNode { Value: null or "" or "~" or "null" })
            return null;
        if (node is not YamlMappingNode child)
            throw Error(node, key, "expected a mapping of keys to values");
        var section = new YamlOptions(file, child, Path(key) + ".");
        children.Add(section);
        return section;
    }

    public string? String(string key)
    {
        var node = Find(key);
        if (node is null)
            return null;
        if (node is not YamlScalarNode scalar)
            throw Error(node, key, "expected a text value");
        return scalar.Value is null or "~" or "null" ? null : scalar.Value;
    }

    public int? Int(string key) => Scalar(key, "an integer", text =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : (int?)null);

    public long? Long(string key) => Scalar(key, "an integer", text =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : (long?)null);

    public double? Double(string key) => Scalar(key, "a number", text =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v : (double?)null);

    public bool? Bool(string key) => Scalar(key, "true or false", text => text switch
    {
        "true" or "True" or "yes" => true,
        "false" or "False" or "no" => false,
        _ => (bool?)null,
    });

    public IReadOnlyList<double>? Doubles(string key)
    {
        var node = Find(key);
        if (node is null)
            return null;
        if (node is not YamlSequenceNode sequence)
            throw Error(node, key, "expected a list of numbers, e.g. [120, 240]");
        return sequence.Children.Select(child =>
            child is YamlScalarNode { Value: { } text } && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
                ? v
                : throw Error(child, key, "expected a list of numbers, e.g. [120, 240]")).ToList();
    }

    /// <summary>An error located at <paramref name="key"/> (or at this section when the key is absent).</summary>
    public BadInputException Fail(string key, string message)
    {
        var node = Find(key);
        return node is null ? new BadInputException($"{file}: {Path(key)}: {message}") : Error(node, key, message);
    }

    /// <summary>Throws for the first key (in file order, depth first) that was never read.</summary>
    public void RejectUnknownKeys()
    {
        foreach (var (keyNode, _) in mapping.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value ?? "";
            if (!known.Contains(key))
                throw new BadInputException($"{file}:{keyNode.Start.Line}: unknown key '{Path(key)}'{(known.Count > 0 ? $" (known here: {string.Join(", ", known.Order(StringComparer.Ordinal))})" : "")}");
        }
        foreach (var child in children)
            child.RejectUnknownKeys();
    }

    private T? Scalar<T>(string key, string expected, Func<string, T?> parse)
        where T : struct
    {
        var node = Find(key);
        if (node is null || node is YamlScalarNode { Value: "~" or "null" })
            return null;
        if (node is YamlScalarNode { Value: { } text } && parse(text) is { } value)
            return value;
        throw Error(node, key, $"expected {expected}, got {Describe(node)}");
    }

    private YamlNode? Find(string key)
    {
        known.Add(key);
        return mapping.Children.TryGetValue(new YamlScalarNode(key), out var node) ? node : null;
    }

    private string Path(string key) => prefix + key;

    private BadInputException Error(YamlNode node, string key, string message) =>
        new($"{file}:{node.Start.Line}: {Path(key)}: {message}");

    private static string Describe(YamlNode node) => node switch
    {
        YamlScalarNode scalar => $"'{scalar.Value}'",
        YamlSequenceNode => "a list",
        _ => "a mapping",
    };
}
