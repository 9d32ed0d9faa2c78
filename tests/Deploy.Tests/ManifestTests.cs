using k8s;
using k8s.Models;

namespace SrMobile.Deploy.Tests;

/// <summary>deploy/k8s as it is: the base and every overlay render, parse strictly, validate, and agree with the code.</summary>
public sealed class ManifestTests
{
    private static readonly Lazy<SourceFacts> Facts = new(() => SourceFacts.Read(TestData.RepositoryRoot));

    public static TheoryData<string> Trees => new(Manifests.Trees);

    [Theory]
    [MemberData(nameof(Trees))]
    public void Every_object_parses_with_the_strict_typed_loader(string tree)
    {
        var documents = Manifests.Render(tree);

        var objects = Manifests.LoadStrict(documents);

        Assert.Equal(documents.Count(d => !Manifests.CustomKinds.Contains(Kustomize.Kind(d))), objects.Count);
        Assert.All(objects, o => Assert.IsAssignableFrom<IKubernetesObject>(o));
        Assert.Single(objects.OfType<V1Namespace>());
        Assert.Contains(objects.OfType<V1Deployment>(), d => d.Metadata.Name == "srmobile-coordinator");
        Assert.Contains(objects.OfType<V1DaemonSet>(), d => d.Metadata.Name == "srmobile-device-agent");
    }

    [Theory]
    [MemberData(nameof(Trees))]
    public async Task Every_object_validates_with_kubernetes_models(string tree)
    {
        var problems = await Manifests.ValidateModels(Manifests.Render(tree));

        Assert.Empty(problems);
    }

    [Theory]
    [MemberData(nameof(Trees))]
    public void Manifests_agree_with_each_other_and_with_the_code(string tree)
    {
        var problems = ManifestChecks.Problems(Manifests.Render(tree), Facts.Value);

        Assert.Empty(problems);
    }

    [Fact]
    public void The_source_facts_the_checks_rely_on_are_found()
    {
        var facts = Facts.Value;

        Assert.Contains("SrMobile:Storage:Kind", facts.Keys("srmobile-silo"));
        Assert.Contains("SrMobile:Trainer:WorkFolder", facts.Keys("srmobile-silo"));
        Assert.Contains("SrMobile:Agent:Name", facts.Keys("srmobile-agent"));
        Assert.DoesNotContain("SrMobile:Trainer:WorkFolder", facts.Keys("srmobile-agent"));
        Assert.Contains("SrMobile:Tls:CaPath", facts.Keys("srmobile-agent"));
        Assert.Contains("SrMobile:ShutdownTimeout", facts.Keys("srmobile-silo"));
        Assert.Equal(["/healthz/live", "/healthz/ready", "/metrics"], facts.Endpoints("srmobile-silo").Order());
        Assert.Equal(["/healthz/live", "/metrics"], facts.Endpoints("srmobile-agent").Order());
        Assert.Equal(8080, facts.HttpPortByProgram["srmobile-silo"]);
        Assert.Equal(9464, facts.HttpPortByProgram["srmobile-agent"]);
        Assert.Equal(11111, facts.PortDefaults["SiloPort"]);
        Assert.Equal(30000, facts.PortDefaults["GatewayPort"]);
        Assert.Equal(["coordinator", "device", "trainer"], facts.Roles.Order());
        Assert.Contains("--mode", facts.AgentSwitches);
        Assert.Contains("srmobile_leases_expired_total", facts.Series);
        Assert.Contains("srmobile_measured_latency_seconds_bucket", facts.Series);
        Assert.Contains("srmobile_candidates", facts.Series);
        Assert.Contains("health", facts.SeriesLabels);
        var images = ManifestChecks.DockerfileImages(TestData.RepositoryRoot);
        Assert.Equal("srmobile-silo", images["srmobile/coordinator"]);
        Assert.Equal("srmobile-silo", images["srmobile/trainer"]);
        Assert.Equal("srmobile-agent", images["srmobile/agent"]);
    }

    [Fact]
    public void The_secrets_example_shows_exactly_the_secrets_the_base_reads_and_makes_none()
    {
        var example = Yaml.LoadAll(File.ReadAllText(Path.Combine(Manifests.Folder, "secrets.example.yaml")), "secrets.example.yaml");

        var secrets = Manifests.LoadStrict(example).Cast<V1Secret>().ToList();

        Assert.Equal(ManifestChecks.OutsideSecrets.Keys.Order(), secrets.Select(s => s.Metadata.Name).Order());
        Assert.All(secrets, s => Assert.Equal(ManifestChecks.OutsideSecrets[s.Metadata.Name].Order(), s.StringData.Keys.Order()));
        Assert.All(secrets, s => Assert.Equal("srmobile", s.Metadata.NamespaceProperty));
        Assert.DoesNotContain(Manifests.Render("."), d => Kustomize.Kind(d) == "Secret");
    }

    [Fact]
    public void The_base_is_the_production_shape()
    {
        var objects = Manifests.LoadStrict(Manifests.Render("."));

        var coordinator = objects.OfType<V1Deployment>().Single(d => d.Metadata.Name == "srmobile-coordinator");
        Assert.Equal("0", coordinator.Spec.Strategy.RollingUpdate.MaxUnavailable.Value);
        Assert.Equal("/healthz/ready", coordinator.Spec.Template.Spec.Containers[0].ReadinessProbe.HttpGet.Path);
        Assert.Equal("/healthz/live", coordinator.Spec.Template.Spec.Containers[0].LivenessProbe.HttpGet.Path);
        var trainer = objects.OfType<V1Deployment>().Single(d => d.Metadata.Name == "srmobile-trainer");
        Assert.Equal("1", trainer.Spec.Template.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"].ToString());
        Assert.Equal("true", trainer.Spec.Template.Spec.NodeSelector["nvidia.com/gpu.present"]);
        Assert.Contains(trainer.Spec.Template.Spec.Tolerations, t => t.Key == "nvidia.com/gpu");
        var agent = objects.OfType<V1DaemonSet>().Single();
        Assert.Equal("arm64", agent.Spec.Template.Spec.NodeSelector["kubernetes.io/arch"]);
        Assert.Equal(["--mode", "silo"], agent.Spec.Template.Spec.Containers[0].Args);
        var settings = objects.OfType<V1ConfigMap>().Single().Data;
        Assert.Equal("azure", settings["SrMobile__Storage__Kind"]);
        Assert.Equal("true", settings["SrMobile__Tls__Enabled"]);
        Assert.Equal(["get", "watch", "list", "patch", "delete"], objects.OfType<V1Role>().Single().Rules[0].Verbs);
        Assert.Equal(2, objects.OfType<V1PodDisruptionBudget>().Count());
        Assert.All(objects.OfType<V1Deployment>(), d => Assert.Equal("true", d.Spec.Template.Metadata.Annotations["prometheus.io/scrape"]));
    }

    [Fact]
    public void The_overlays_change_what_they_say()
    {
        var dev = Manifests.LoadStrict(Manifests.Render("overlays/dev"));
        var trainer = dev.OfType<V1Deployment>().Single(d => d.Metadata.Name == "srmobile-trainer");
        Assert.Equal(1, trainer.Spec.Replicas);
        Assert.False(trainer.Spec.Template.Spec.Containers[0].Resources.Limits.ContainsKey("nvidia.com/gpu"));
        Assert.Null(trainer.Spec.Template.Spec.NodeSelector);
        Assert.Null(trainer.Spec.Template.Spec.Tolerations);
        Assert.All(dev.OfType<V1Deployment>(), d => Assert.Equal(1, d.Spec.Replicas));
        Assert.Contains(dev.OfType<V1Deployment>(), d => d.Metadata.Name == "srmobile-azurite");
        Assert.Contains(dev.OfType<V1Service>(), s => s.Metadata.Name == "srmobile-azurite");
        Assert.Equal("false", dev.OfType<V1ConfigMap>().Single().Data["SrMobile__Tls__Enabled"]);
        Assert.Contains("srmobile-azurite:10002", dev.OfType<V1Secret>().Single(s => s.Metadata.Name == "srmobile-storage").StringData["connection-string"]);

        var cuda = Manifests.Render("overlays/cuda");
        Assert.Equal("srmobile/trainer:0.1.0-cuda", (string?)Kustomize.Containers(cuda.Single(d => Kustomize.Kind(d) == "Deployment" && Kustomize.Name(d) == "srmobile-trainer")).Single()["image"]);

        var monitoring = Manifests.Render("overlays/monitoring");
        Assert.Equal(["PodMonitor", "PrometheusRule", "ServiceMonitor"], monitoring.Select(Kustomize.Kind).Where(Manifests.CustomKinds.Contains).Order());
        var alerts = monitoring.Single(d => Kustomize.Kind(d) == "PrometheusRule")["spec"]!["groups"]![0]!["rules"]!.AsArray().Select(r => (string?)r!["alert"]);
        Assert.Equal(["SrMobileSearchStalled", "SrMobileDeviceAgentsOffline", "SrMobileLeaseExpiryBurst"], alerts);
    }
}
