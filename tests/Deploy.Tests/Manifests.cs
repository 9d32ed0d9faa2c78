using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;

namespace SrMobile.Deploy.Tests;

/// <summary>The deploy/k8s trees the tests render, and the two validators (KubernetesClient, npm kubernetes-models).</summary>
public static class Manifests
{
    public static string Folder => Path.Combine(TestData.RepositoryRoot, "deploy", "k8s");

    /// <summary>What <c>kubectl apply -k</c> would apply: the root (the base) and each overlay.</summary>
    public static readonly string[] Trees = [".", "overlays/dev", "overlays/monitoring", "overlays/cuda"];

    public static List<JsonObject> Render(string tree) => Kustomize.Build(Path.GetFullPath(Path.Combine(Folder, tree)));

    /// <summary>Prometheus Operator kinds: KubernetesClient has no types for them; kubernetes-models validates them.</summary>
    public static readonly HashSet<string> CustomKinds = ["ServiceMonitor", "PodMonitor", "PrometheusRule"];

    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The built-in kinds through KubernetesClient's typed YAML loader with <c>strict</c>: an unknown field (a typo, a
    /// field at the wrong level) or a value of the wrong type is an error. JSON is YAML, so each document goes as JSON.
    /// </summary>
    public static List<object> LoadStrict(IEnumerable<JsonObject> documents)
    {
        var text = string.Join("\n---\n", documents.Where(d => !CustomKinds.Contains(Kustomize.Kind(d))).Select(d => d.ToJsonString(Json)));
        return KubernetesYaml.LoadAllFromString(text, strict: true);
    }

    /// <summary>Every document through <c>validate-models.mjs</c> (npm kubernetes-models); the problems, one per invalid object.</summary>
    public static async Task<List<string>> ValidateModels(IEnumerable<JsonObject> documents)
    {
        await NodeModules.Ensure("kubernetes-models", "@kubernetes-models/prometheus-operator");
        var input = Path.Combine(Path.GetTempPath(), $"srmobile-manifests-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(input, new JsonArray(documents.Select(d => (JsonNode)d.DeepClone()).ToArray()).ToJsonString(Json));
        try
        {
            var script = Path.Combine(TestData.RepositoryRoot, "tests", "Deploy.Tests", "validate-models.mjs");
            var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(script);
            start.ArgumentList.Add(input);
            using var node = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
            var output = node.StandardOutput.ReadToEndAsync();
            var errors = node.StandardError.ReadToEndAsync();
            await node.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            if (node.ExitCode != 0)
                throw new InvalidOperationException($"validate-models.mjs exited with {node.ExitCode}: {await errors}");
            return JsonNode.Parse(await output)!.AsArray().OfType<JsonObject>()
                .Where(r => r["error"] is not null).Select(r => $"{r["id"]}: {r["error"]}").ToList();
        }
        finally
        {
            File.Delete(input);
        }
    }
}
