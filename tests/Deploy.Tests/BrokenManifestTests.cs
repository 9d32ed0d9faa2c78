using System.Text.Json.Nodes;

namespace SrMobile.Deploy.Tests;

/// <summary>
/// Each check can fail: the rendered base (or monitoring overlay) with one deliberate mistake must be caught, with a
/// problem that names it. A check that never fails would pass these manifests for nothing.
/// </summary>
public sealed class BrokenManifestTests
{
    private static readonly Lazy<SourceFacts> Facts = new(() => SourceFacts.Read(TestData.RepositoryRoot));

    private static JsonObject Object(List<JsonObject> documents, string kind, string name) =>
        documents.Single(d => Kustomize.Kind(d) == kind && Kustomize.Name(d) == name);

    private static JsonObject Container(List<JsonObject> documents, string kind, string name) =>
        Kustomize.Containers(Object(documents, kind, name)).First();

    private static JsonObject Env(JsonObject container, string name) =>
        container["env"]!.AsArray().OfType<JsonObject>().Single(e => (string?)e["name"] == name);

    private static JsonObject Settings(List<JsonObject> documents) => Object(documents, "ConfigMap", "srmobile-settings")["data"]!.AsObject();

    private static readonly Dictionary<string, (string Tree, Action<List<JsonObject>> Break, string Expected)> Mistakes = new()
    {
        ["a misspelt setting"] = (".", d => { var s = Settings(d); s["SrMobile__Storage__Knd"] = s["SrMobile__Storage__Kind"]!.DeepClone(); s.Remove("SrMobile__Storage__Kind"); }, "SrMobile__Storage__Knd is configuration key SrMobile:Storage:Knd"),
        ["a trainer setting on the agent"] = (".", d => Container(d, "DaemonSet", "srmobile-device-agent")["env"]!.AsArray().Add(new JsonObject { ["name"] = "SrMobile__Trainer__WorkFolder", ["value"] = "/w" }), "which srmobile-agent does not read"),
        ["an unknown role"] = (".", d => Env(Container(d, "Deployment", "srmobile-trainer"), "SrMobile__Roles__0")["value"] = "trainee", "is no silo role"),
        ["a variable nothing reads"] = (".", d => Container(d, "Deployment", "srmobile-coordinator")["env"]!.AsArray().Add(new JsonObject { ["name"] = "STORAGE_KIND", ["value"] = "azure" }), "STORAGE_KIND is read by nothing"),
        ["a readiness probe on the agent"] = (".", d => Container(d, "DaemonSet", "srmobile-device-agent")["readinessProbe"] = new JsonObject { ["httpGet"] = new JsonObject { ["path"] = "/healthz/ready", ["port"] = "http" } }, "asks /healthz/ready, which srmobile-agent does not serve"),
        ["a probe on a missing path"] = (".", d => Container(d, "Deployment", "srmobile-coordinator")["livenessProbe"]!["httpGet"]!["path"] = "/health", "asks /health"),
        ["a probe on a missing port"] = (".", d => Container(d, "Deployment", "srmobile-coordinator")["livenessProbe"]!["httpGet"]!["port"] = "web", "livenessProbe port \"web\" is no port"),
        ["a container port the silo does not listen on"] = (".", d => Container(d, "Deployment", "srmobile-coordinator")["ports"]![0]!["containerPort"] = 8081, "port http is 8081 but srmobile-silo listens on 8080"),
        ["a gateway port that differs from the setting"] = (".", d => Env(Container(d, "Deployment", "srmobile-coordinator"), "SrMobile__GatewayPort")["value"] = "30001", "port gateway is 30000 but srmobile-silo listens on 30001"),
        ["a scrape port that is not /metrics'"] = (".", d => Object(d, "Deployment", "srmobile-trainer")["spec"]!["template"]!["metadata"]!["annotations"]!["prometheus.io/port"] = "9090", "prometheus.io/port is 9090"),
        ["a Service that selects nothing"] = (".", d => Object(d, "Service", "srmobile")["spec"]!["selector"]!["app.kubernetes.io/component"] = "coordinators", "selects no pod template"),
        ["a Service port to nowhere"] = (".", d => Object(d, "Service", "srmobile")["spec"]!["ports"]![1]!["targetPort"] = "gw", "targetPort \"gw\" is no container port"),
        ["a selector that misses its template"] = (".", d => Object(d, "Deployment", "srmobile-trainer")["spec"]!["selector"]!["matchLabels"]!["app.kubernetes.io/component"] = "trainers", "does not match its pod template's labels"),
        ["a disruption budget that selects nothing"] = (".", d => Object(d, "PodDisruptionBudget", "srmobile-trainer")["spec"]!["selector"]!["matchLabels"]!["app.kubernetes.io/name"] = "other", "PodDisruptionBudget srmobile-trainer: selector selects no pod template"),
        ["a missing Secret key"] = (".", d => Env(Container(d, "Deployment", "srmobile-trainer"), "SrMobile__Storage__ConnectionString")["valueFrom"]!["secretKeyRef"]!["key"] = "connection", "reads key connection of Secret srmobile-storage"),
        ["a Secret nobody makes"] = (".", d => Env(Container(d, "Deployment", "srmobile-coordinator"), "SrMobile__Auth__ApiKeys__0")["valueFrom"]!["secretKeyRef"]!["name"] = "srmobile-apikeys", "reads Secret srmobile-apikeys, which does not exist"),
        ["a key the dev overlay's Secret lacks"] = ("overlays/dev", d => Object(d, "Secret", "srmobile-api")["stringData"]!.AsObject().Remove("api-key"), "reads key api-key of Secret srmobile-api"),
        ["a missing ConfigMap"] = (".", d => d.Remove(Object(d, "ConfigMap", "srmobile-settings")), "envFrom ConfigMap srmobile-settings does not exist"),
        ["a missing claim"] = (".", d => d.Remove(Object(d, "PersistentVolumeClaim", "srmobile-datasets")), "PersistentVolumeClaim srmobile-datasets, which does not exist"),
        ["a missing service account"] = (".", d => d.Remove(Object(d, "ServiceAccount", "srmobile-silo")), "service account srmobile-silo does not exist"),
        ["an image no Dockerfile builds"] = (".", d => Container(d, "Deployment", "srmobile-coordinator")["image"] = "srmobile/coordinater:0.1.0", "srmobile/coordinater is built by no Dockerfile"),
        ["an image without a tag"] = (".", d => Container(d, "DaemonSet", "srmobile-device-agent")["image"] = "srmobile/agent", "has no fixed tag"),
        ["a grace period shorter than the drain"] = (".", d => Kustomize.PodSpec(Object(d, "Deployment", "srmobile-trainer"))!["terminationGracePeriodSeconds"] = 30, "terminationGracePeriodSeconds 30"),
        ["a coordinator update that may take every replica"] = (".", d => Object(d, "Deployment", "srmobile-coordinator")["spec"]!["strategy"]!["rollingUpdate"]!["maxUnavailable"] = 1, "maxUnavailable 0"),
        ["TLS files on no volume"] = (".", d => Settings(d)["SrMobile__Tls__CaPath"] = "/etc/ssl/ca.crt", "SrMobile__Tls__CaPath (/etc/ssl/ca.crt) is on no mounted volume"),
        ["Orleans labels that are not the cluster's"] = (".", d => Object(d, "DaemonSet", "srmobile-device-agent")["spec"]!["template"]!["metadata"]!["labels"]!["orleans/clusterId"] = "other", "pod label orleans/clusterId=other"),
        ["a role without delete"] = (".", d => Object(d, "Role", "srmobile-silo-pods")["rules"]![0]!["verbs"]!.AsArray().RemoveAt(4), "lack delete on pods"),
        ["a switch the agent does not have"] = (".", d => Container(d, "DaemonSet", "srmobile-device-agent")["args"]![0] = "--moed", "argument --moed is no switch"),
        ["an alert on a series nobody exports"] = ("overlays/monitoring", d => Object(d, "PrometheusRule", "srmobile")["spec"]!["groups"]![0]!["rules"]![2]!["expr"] = "sum by (pool) (increase(srmobile_leases_expird_total[10m])) > 5", "series srmobile_leases_expird_total"),
        ["an alert on a label nobody sets"] = ("overlays/monitoring", d => Object(d, "PrometheusRule", "srmobile")["spec"]!["groups"]![0]!["rules"]![1]!["expr"] = "sum by (key) (srmobile_device_workers{health=\"offline\"}) > 0", "label key is on no SrMobile series"),
        ["a ServiceMonitor on a port the Service lacks"] = ("overlays/monitoring", d => Object(d, "ServiceMonitor", "srmobile-coordinator")["spec"]!["endpoints"]![0]!["port"] = "metrics", "endpoint port metrics is no port name"),
    };

    public static TheoryData<string> MistakeNames => new(Mistakes.Keys);

    [Theory]
    [MemberData(nameof(MistakeNames))]
    public void A_deliberate_mistake_is_caught(string mistake)
    {
        var (tree, breakIt, expected) = Mistakes[mistake];
        var documents = Manifests.Render(tree);
        Assert.Empty(ManifestChecks.Problems(documents, Facts.Value));

        breakIt(documents);

        var problems = ManifestChecks.Problems(documents, Facts.Value);
        Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void The_strict_loader_refuses_an_unknown_field_and_a_wrong_type()
    {
        var documents = Manifests.Render(".");
        Container(documents, "Deployment", "srmobile-coordinator")["imagePullPolicyy"] = "Always";
        Assert.Contains("imagePullPolicyy", Assert.ThrowsAny<Exception>(() => Manifests.LoadStrict(documents)).ToString());

        documents = Manifests.Render(".");
        Object(documents, "Deployment", "srmobile-trainer")["spec"]!["replicas"] = "two";
        Assert.ThrowsAny<Exception>(() => Manifests.LoadStrict(documents));
    }

    [Fact]
    public async Task Kubernetes_models_refuse_missing_required_fields()
    {
        var documents = Manifests.Render("overlays/monitoring");
        Container(documents, "Deployment", "srmobile-coordinator").Remove("name");
        Object(documents, "Deployment", "srmobile-trainer")["spec"]!.AsObject().Remove("selector");
        Object(documents, "PrometheusRule", "srmobile")["spec"]!["groups"]![0]!.AsObject().Remove("name");

        var problems = await Manifests.ValidateModels(documents);

        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.Contains("srmobile-coordinator", StringComparison.Ordinal) && p.Contains("name", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("srmobile-trainer", StringComparison.Ordinal) && p.Contains("selector", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("PrometheusRule", StringComparison.Ordinal));
    }
}
