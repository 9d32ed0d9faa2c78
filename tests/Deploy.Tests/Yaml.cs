using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SrMobile.Deploy.Tests;

/// <summary>
/// YAML documents as JSON trees, keeping YAML's scalar types: a plain <c>2</c> is a number and <c>true</c> a boolean,
/// while a quoted <c>"2"</c> stays a string (the difference Kubernetes' schemas care about, e.g. annotation values).
/// </summary>
public static partial class Yaml
{
    public static List<JsonObject> LoadAll(string text, string source)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        var documents = new List<JsonObject>();
        foreach (var document in stream.Documents)
        {
            if (document.RootNode is YamlScalarNode { Value: null or "" })
                continue;
            documents.Add(ToNode(document.RootNode) as JsonObject ?? throw new InvalidDataException($"{source}: a document is not a mapping"));
        }
        return documents;
    }

    private static JsonNode? ToNode(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value ?? "", ToNode(c.Value)))),
        YamlSequenceNode sequence => new JsonArray(sequence.Children.Select(ToNode).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new InvalidDataException($"unsupported YAML node {node.NodeType} at {node.Start}"),
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style != ScalarStyle.Plain)
            return JsonValue.Create(value);
        if (value is "" or "~" or "null" or "Null" or "NULL")
            return null;
        if (value is "true" or "True" or "TRUE")
            return JsonValue.Create(true);
        if (value is "false" or "False" or "FALSE")
            return JsonValue.Create(false);
        // Numbers as JSON text, so a value reads back as int, long or double alike (as parsed JSON does).
        if (Integer().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
            return JsonNode.Parse(number.ToString(CultureInfo.InvariantCulture));
        if (Float().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var real))
            return JsonNode.Parse(real.ToString("R", CultureInfo.InvariantCulture));
        return JsonValue.Create(value);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Float();
}
