using System.Text.Json.Nodes;

namespace SrMobile.Deploy.Tests;

/// <summary>
/// The part of kustomize's semantics that deploy/k8s uses, for machines without <c>kubectl kustomize</c>:
/// <c>resources</c> (files and kustomization folders), <c>namespace</c>, <c>labels</c> (metadata labels only),
/// <c>patches</c> with a <c>path</c> (strategic merge: maps merge, <c>null</c> deletes, the list fields of
/// <see cref="MergeKeys"/> merge by their key, other lists are replaced) and <c>images</c> (name, newName, newTag).
/// Anything else in a kustomization is an error rather than silently ignored, and so is a patch or an image entry that
/// matches nothing. The result was compared with kustomize v5.5.0's output for the base and each overlay (docs/STATUS.md).
/// </summary>
public static class Kustomize
{
    private static readonly HashSet<string> KnownFields = ["apiVersion", "kind", "resources", "namespace", "labels", "patches", "images"];

    /// <summary>Strategic-merge keys of the Kubernetes list fields the patches touch (as the API's patchMergeKey says).</summary>
    public static readonly IReadOnlyDictionary<string, string> MergeKeys = new Dictionary<string, string>
    {
        ["containers"] = "name",
        ["initContainers"] = "name",
        ["env"] = "name",
        ["volumes"] = "name",
        ["volumeMounts"] = "mountPath",
        ["ports"] = "containerPort",
        ["imagePullSecrets"] = "name",
    };

    /// <summary>Kinds that have no namespace (the namespace transformer leaves them alone).</summary>
    private static readonly HashSet<string> ClusterScoped = ["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume", "StorageClass", "PriorityClass"];

    public static List<JsonObject> Build(string folder)
    {
        var file = Path.Combine(folder, "kustomization.yaml");
        if (!File.Exists(file))
            throw new InvalidDataException($"{folder}: no kustomization.yaml");
        var kustomization = Yaml.LoadAll(File.ReadAllText(file), file).Single();
        foreach (var (field, _) in kustomization)
        {
            if (!KnownFields.Contains(field))
                throw new NotSupportedException($"{file}: field '{field}' is not supported by this renderer (extend Kustomize.cs and its tests)");
        }

        var resources = new List<JsonObject>();
        foreach (var entry in Strings(kustomization["resources"], file, "resources"))
        {
            var path = Path.GetFullPath(Path.Combine(folder, entry));
            if (Directory.Exists(path))
                resources.AddRange(Build(path));
            else if (File.Exists(path))
                resources.AddRange(Yaml.LoadAll(File.ReadAllText(path), path));
            else
                throw new InvalidDataException($"{file}: resource '{entry}' does not exist");
        }
        foreach (var resource in resources)
            _ = Id(resource);

        foreach (var patch in Items(kustomization["patches"], file, "patches"))
        {
            if (patch.Any(p => p.Key != "path"))
                throw new NotSupportedException($"{file}: only patches with a path are supported, not {patch.ToJsonString()}");
            var path = Path.Combine(folder, (string?)patch["path"] ?? throw new InvalidDataException($"{file}: a patch without a path"));
            foreach (var document in Yaml.LoadAll(File.ReadAllText(path), path))
            {
                var targets = resources.Where(r => SameObject(r, document)).ToList();
                if (targets.Count != 1)
                    throw new InvalidDataException($"{path}: patch {Id(document)} matches {targets.Count} resources, not 1");
                Merge(targets[0], document);
            }
        }

        if (kustomization["namespace"] is JsonValue ns)
        {
            var name = (string)ns!;
            foreach (var resource in resources.Where(r => !ClusterScoped.Contains(Kind(r))))
            {
                Metadata(resource)["namespace"] = name;
                if (resource["subjects"] is JsonArray subjects)
                    foreach (var subject in subjects.OfType<JsonObject>().Where(s => (string?)s["kind"] == "ServiceAccount"))
                        subject["namespace"] = name;
            }
        }

        foreach (var label in Items(kustomization["labels"], file, "labels"))
        {
            if (label.Any(p => p.Key != "pairs"))
                throw new NotSupportedException($"{file}: labels with {string.Join(", ", label.Select(p => p.Key))}: only pairs (metadata labels) are supported");
            foreach (var resource in resources)
            {
                var labels = Metadata(resource)["labels"] as JsonObject ?? (JsonObject)(Metadata(resource)["labels"] = new JsonObject());
                foreach (var (key, value) in (JsonObject)label["pairs"]!)
                    labels[key] = value?.DeepClone();
            }
        }

        foreach (var image in Items(kustomization["images"], file, "images"))
        {
            var from = (string?)image["name"] ?? throw new InvalidDataException($"{file}: an image without a name");
            var matched = 0;
            foreach (var container in resources.SelectMany(Containers))
            {
                var (name, tag) = SplitImage((string?)container["image"] ?? "");
                if (name != from)
                    continue;
                matched++;
                var newName = (string?)image["newName"] ?? name;
                var newTag = (string?)image["newTag"] ?? tag;
                container["image"] = newTag is null ? newName : $"{newName}:{newTag}";
            }
            if (matched == 0)
                throw new InvalidDataException($"{file}: image '{from}' matches no container image");
        }
        return resources;
    }

    /// <summary>Every container (and init container) of a workload's pod template or a pod.</summary>
    public static IEnumerable<JsonObject> Containers(JsonObject resource)
    {
        var pod = PodSpec(resource);
        if (pod is null)
            return [];
        return new[] { "containers", "initContainers" }.SelectMany(f => (pod[f] as JsonArray)?.OfType<JsonObject>() ?? []);
    }

    public static JsonObject? PodSpec(JsonObject resource) => Kind(resource) switch
    {
        "Pod" => resource["spec"] as JsonObject,
        "Deployment" or "DaemonSet" or "StatefulSet" or "ReplicaSet" or "Job" => resource["spec"]?["template"]?["spec"] as JsonObject,
        "CronJob" => resource["spec"]?["jobTemplate"]?["spec"]?["template"]?["spec"] as JsonObject,
        _ => null,
    };

    public static (string Name, string? Tag) SplitImage(string image)
    {
        var at = image.IndexOf('@', StringComparison.Ordinal);
        var withoutDigest = at >= 0 ? image[..at] : image;
        var colon = withoutDigest.LastIndexOf(':');
        return colon > withoutDigest.LastIndexOf('/') ? (withoutDigest[..colon], withoutDigest[(colon + 1)..]) : (withoutDigest, null);
    }

    public static string Kind(JsonObject resource) => (string?)resource["kind"] ?? throw new InvalidDataException($"a resource without kind: {resource.ToJsonString()[..Math.Min(80, resource.ToJsonString().Length)]}");

    public static string Name(JsonObject resource) => (string?)resource["metadata"]?["name"] ?? throw new InvalidDataException($"a {Kind(resource)} without a name");

    public static string Id(JsonObject resource) => $"{(string?)resource["apiVersion"] ?? throw new InvalidDataException($"{Kind(resource)} without apiVersion")} {Kind(resource)} {Name(resource)}";

    private static JsonObject Metadata(JsonObject resource) => (JsonObject)resource["metadata"]!;

    private static bool SameObject(JsonObject resource, JsonObject patch) =>
        (string?)resource["apiVersion"] == (string?)patch["apiVersion"] && Kind(resource) == Kind(patch) && Name(resource) == Name(patch)
        && ((string?)patch["metadata"]?["namespace"] is not { } ns || ns == (string?)resource["metadata"]?["namespace"]);

    /// <summary>Strategic merge of <paramref name="patch"/> into <paramref name="target"/> (see the class comment).</summary>
    public static void Merge(JsonObject target, JsonObject patch)
    {
        foreach (var (key, value) in patch.ToList())
        {
            if (value is null)
                target.Remove(key);
            else if (value is JsonObject patchMap && target[key] is JsonObject targetMap)
                Merge(targetMap, patchMap);
            else if (value is JsonArray patchList && target[key] is JsonArray targetList && MergeKeys.TryGetValue(key, out var mergeKey))
                MergeList(targetList, patchList, mergeKey);
            else
                target[key] = value.DeepClone();
        }
    }

    private static void MergeList(JsonArray target, JsonArray patch, string mergeKey)
    {
        foreach (var item in patch.OfType<JsonObject>())
        {
            var key = item[mergeKey]?.ToJsonString() ?? throw new InvalidDataException($"a patch item without its merge key '{mergeKey}': {item.ToJsonString()}");
            var existing = target.OfType<JsonObject>().FirstOrDefault(t => t[mergeKey]?.ToJsonString() == key);
            if ((string?)item["$patch"] == "delete")
            {
                if (existing is not null)
                    target.Remove(existing);
            }
            else if (existing is not null)
                Merge(existing, item);
            else
                target.Add(item.DeepClone());
        }
    }

    private static IEnumerable<string> Strings(JsonNode? node, string file, string field) =>
        node is null ? [] : node is JsonArray list ? list.Select(n => (string?)n ?? throw new InvalidDataException($"{file}: {field} holds a null")) : throw new InvalidDataException($"{file}: {field} is not a list");

    private static IEnumerable<JsonObject> Items(JsonNode? node, string file, string field) =>
        node is null ? [] : node is JsonArray list ? list.Select(n => n as JsonObject ?? throw new InvalidDataException($"{file}: an entry of {field} is not a mapping")) : throw new InvalidDataException($"{file}: {field} is not a list");
}
