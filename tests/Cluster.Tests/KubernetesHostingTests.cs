using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SrMobile.Tests;

namespace SrMobile.Cluster.Tests;

/// <summary>Orleans' Kubernetes hosting reads the pod's name from the process environment: these tests set it, so they run alone.</summary>
[CollectionDefinition(nameof(PodEnvironment), DisableParallelization = true)]
public sealed class PodEnvironment;

[Collection(nameof(PodEnvironment))]
public sealed class KubernetesHostingTests
{
    [Fact]
    public void Outside_a_pod_nothing_changes()
    {
        static KubernetesPod? Pod(params (string Key, string Value)[] values) =>
            KubernetesPod.From(new ConfigurationBuilder().AddInMemoryCollection(values.ToDictionary(v => v.Key, v => (string?)v.Value)).Build());

        Assert.Null(Pod());
        // Kubernetes sets its service host in every pod; without the downward API's name and namespace it is not ours.
        Assert.Null(Pod(("KUBERNETES_SERVICE_HOST", "10.0.0.1")));
        Assert.Null(Pod(("KUBERNETES_SERVICE_HOST", "10.0.0.1"), ("POD_NAME", "a")));
        Assert.Null(Pod(("POD_NAME", "a"), ("POD_NAMESPACE", "srmobile")));
        Assert.Null(Pod(("KUBERNETES_SERVICE_HOST", " "), ("POD_NAME", "a"), ("POD_NAMESPACE", "srmobile")));
        Assert.Equal(new KubernetesPod("a", "srmobile"), Pod(("KUBERNETES_SERVICE_HOST", "10.0.0.1"), ("POD_NAME", "a"), ("POD_NAMESPACE", "srmobile")));
    }

    [Fact]
    public async Task A_silo_outside_a_pod_has_no_kubernetes_agent()
    {
        await using var azurite = await Azurite.StartNew();
        using var folder = TestData.NewTemporaryFolder();
        using var silo = TestSilo.Build(azurite, $"c{Guid.NewGuid():N}"[..12], folder.Path, new Dictionary<string, string?>());

        Assert.DoesNotContain(silo.Services.GetServices<ILifecycleParticipant<ISiloLifecycle>>(), p => p.GetType().Name == "KubernetesClusterAgent");
    }

    [Fact]
    public async Task A_silo_in_a_pod_labels_its_pod_lists_and_watches_the_clusters_pods()
    {
        await using var api = await StubApiServer.Start("srmobile");
        await using var azurite = await Azurite.StartNew();
        using var folder = TestData.NewTemporaryFolder();
        var clusterId = $"c{Guid.NewGuid():N}"[..12];
        const string pod = "srmobile-coordinator-7d9f-abcde";
        // A peer the stub lists with the cluster's labels, and a pod of another cluster it must not be shown.
        api.AddPod("srmobile-trainer-5c6b-fghij", new() { ["orleans/serviceId"] = clusterId, ["orleans/clusterId"] = clusterId });
        api.AddPod(pod, new() { ["app.kubernetes.io/component"] = "coordinator" });
        api.AddPod("other-cluster-pod", new() { ["orleans/serviceId"] = "other", ["orleans/clusterId"] = "other" });

        using var environment = new Environment(("POD_NAME", pod), ("POD_NAMESPACE", "srmobile"), ("POD_IP", "127.0.0.1"));
        using var silo = TestSilo.Build(azurite, clusterId, folder.Path, new Dictionary<string, string?>
        {
            ["KUBERNETES_SERVICE_HOST"] = "127.0.0.1",
            ["POD_NAME"] = pod,
            ["POD_NAMESPACE"] = "srmobile",
            [KubernetesPod.ApiServerKey] = api.Url,
        });
        await silo.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        try
        {
            // The silo is named after its pod and active in the Azure Table membership.
            Assert.Equal(pod, silo.Services.GetRequiredService<ILocalSiloDetails>().Name);
            var membership = silo.Services.GetRequiredService<IClusterMembershipService>();
            Assert.Contains(membership.CurrentSnapshot.Members.Values, m => m.Name == pod && m.Status == SiloStatus.Active);

            // It labelled its own pod with the cluster's ids (a merge patch), so its peers find it.
            var labels = api.Labels(pod);
            Assert.Equal(clusterId, labels["orleans/serviceId"]);
            Assert.Equal(clusterId, labels["orleans/clusterId"]);
            Assert.Contains(api.Requests, r => r.Method == "PATCH" && r.Path == $"/api/v1/namespaces/srmobile/pods/{pod}" && r.ContentType.StartsWith("application/merge-patch+json", StringComparison.Ordinal));

            // It listed the cluster's pods by those labels (the stub answered with this pod and its peer), and watches them.
            var selector = $"orleans/serviceId={clusterId},orleans/clusterId={clusterId}";
            var list = Assert.Single(api.Requests, r => r.Method == "GET" && r.Path == "/api/v1/namespaces/srmobile/pods" && !r.Watch);
            Assert.Equal(selector, list.LabelSelector);
            Assert.Equal([pod, "srmobile-trainer-5c6b-fghij"], list.Answered.Order());
            await api.Watched.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Contains(api.Requests, r => r.Watch && r.LabelSelector == selector);
        }
        finally
        {
            await silo.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Sets process environment variables for the test's time and restores them.</summary>
    private sealed class Environment : IDisposable
    {
        private readonly List<(string Key, string? Old)> saved = [];

        public Environment(params (string Key, string Value)[] values)
        {
            foreach (var (key, value) in values)
            {
                saved.Add((key, System.Environment.GetEnvironmentVariable(key)));
                System.Environment.SetEnvironmentVariable(key, value);
            }
        }

        public void Dispose()
        {
            foreach (var (key, old) in saved)
                System.Environment.SetEnvironmentVariable(key, old);
        }
    }
}

/// <summary>
/// A loopback Kubernetes API server for what Orleans' Kubernetes hosting calls: read, merge-patch, list and watch pods
/// of a namespace (label selectors of <c>key=value</c> terms). Real HTTP on 127.0.0.1 (Kestrel); it records every request.
/// </summary>
internal sealed class StubApiServer : IAsyncDisposable
{
    public sealed record Request(string Method, string Path, string? LabelSelector, bool Watch, string ContentType, IReadOnlyList<string> Answered);

    private readonly string ns;
    private readonly ConcurrentDictionary<string, Dictionary<string, string>> pods = new();
    private readonly ConcurrentQueue<Request> requests = new();
    private readonly TaskCompletionSource watched = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication app = null!;

    private StubApiServer(string ns) => this.ns = ns;

    public string Url { get; private set; } = "";

    public IReadOnlyList<Request> Requests => requests.ToList();

    public Task Watched => watched.Task;

    public void AddPod(string name, Dictionary<string, string> labels) => pods[name] = labels;

    public Dictionary<string, string> Labels(string name) => new(pods[name]);

    public static async Task<StubApiServer> Start(string ns)
    {
        var stub = new StubApiServer(ns);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        stub.app = builder.Build();
        stub.Map(stub.app);
        await stub.app.StartAsync();
        stub.Url = stub.app.Urls.Single();
        return stub;
    }

    private void Map(WebApplication web)
    {
        web.MapGet("/api/v1/namespaces/{ns}/pods/{name}", (string ns, string name) =>
        {
            requests.Enqueue(new("GET", $"/api/v1/namespaces/{ns}/pods/{name}", null, false, "", [name]));
            return ns == this.ns && pods.ContainsKey(name) ? Results.Text(Pod(name).ToJsonString(), "application/json") : Results.NotFound();
        });
        web.MapMethods("/api/v1/namespaces/{ns}/pods/{name}", ["PATCH"], async (string ns, string name, HttpRequest request) =>
        {
            var body = JsonNode.Parse(await new StreamReader(request.Body).ReadToEndAsync());
            requests.Enqueue(new("PATCH", request.Path, null, false, request.ContentType ?? "", [name]));
            if (ns != this.ns || !pods.TryGetValue(name, out var labels))
                return Results.NotFound();
            foreach (var (key, value) in body?["metadata"]?["labels"]?.AsObject() ?? [])
                labels[key] = (string?)value ?? "";
            return Results.Text(Pod(name).ToJsonString(), "application/json");
        });
        web.MapGet("/api/v1/namespaces/{ns}/pods", async (string ns, HttpContext http) =>
        {
            var selector = http.Request.Query["labelSelector"].ToString();
            var watch = http.Request.Query["watch"] == "true";
            var matching = pods.Where(p => ns == this.ns && Selects(selector, p.Value)).Select(p => p.Key).ToList();
            requests.Enqueue(new("GET", http.Request.Path, selector, watch, "", matching));
            if (!watch)
            {
                var list = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "PodList", ["metadata"] = new JsonObject(), ["items"] = new JsonArray(matching.Select(p => (JsonNode)Pod(p)).ToArray()) };
                await http.Response.WriteAsync(list.ToJsonString());
                return;
            }
            // A watch: the current pods as ADDED events, then the stream stays open until the silo goes.
            watched.TrySetResult();
            http.Response.ContentType = "application/json";
            foreach (var pod in matching)
                await http.Response.WriteAsync(new JsonObject { ["type"] = "ADDED", ["object"] = Pod(pod) }.ToJsonString() + "\n");
            await http.Response.Body.FlushAsync();
            try
            {
                await Task.Delay(Timeout.Infinite, http.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    private JsonObject Pod(string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Pod",
        ["metadata"] = new JsonObject
        {
            ["name"] = name,
            ["namespace"] = ns,
            ["labels"] = new JsonObject(pods[name].Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))),
        },
        ["status"] = new JsonObject { ["phase"] = "Running", ["podIP"] = "127.0.0.1" },
    };

    private static bool Selects(string selector, Dictionary<string, string> labels) =>
        selector.Split(',', StringSplitOptions.RemoveEmptyEntries).All(term => term.Split('=', 2) is [var key, var value] && labels.GetValueOrDefault(key) == value);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
