using k8s;
using Microsoft.Extensions.Configuration;
using Orleans.Hosting.Kubernetes;

namespace SrMobile.Cluster;

/// <summary>
/// The pod a silo runs in, when it runs in one: Kubernetes sets <c>KUBERNETES_SERVICE_HOST</c> in every pod, and the
/// manifests (deploy/k8s) pass the pod's name and namespace as <c>POD_NAME</c> / <c>POD_NAMESPACE</c> (downward API).
/// With all three a silo of the azure kind adds Orleans' Kubernetes hosting (<see cref="Use"/>): it labels its pod with
/// the cluster's ids, watches the cluster's pods, and declares the silo of a deleted pod dead at once instead of after
/// missed probes. Membership stays in Azure Table. Outside a pod, or with the local kind, nothing changes.
/// </summary>
public sealed record KubernetesPod(string Name, string Namespace)
{
    /// <summary>The API server's URL instead of the pod's in-cluster configuration (tests against a stub, a silo run outside the cluster).</summary>
    public const string ApiServerKey = "SrMobile:Kubernetes:ApiServer";

    /// <summary>Whether the pods of silos the cluster declared dead are deleted (default true: their controller starts them anew).</summary>
    public const string DeleteDefunctPodsKey = "SrMobile:Kubernetes:DeleteDefunctPods";

    /// <summary>The pod, or null outside Kubernetes (a variable missing or empty).</summary>
    public static KubernetesPod? From(IConfiguration configuration) =>
        ClusterHostingExtensions.NonEmpty(configuration, "KUBERNETES_SERVICE_HOST") is null
        || ClusterHostingExtensions.NonEmpty(configuration, KubernetesHostingOptions.PodNameEnvironmentVariable) is not { } name
        || ClusterHostingExtensions.NonEmpty(configuration, KubernetesHostingOptions.PodNamespaceEnvironmentVariable) is not { } ns
            ? null
            : new KubernetesPod(name, ns);

    /// <summary>Orleans' Kubernetes hosting, talking to <c>SrMobile:Kubernetes:ApiServer</c> when set, else to the pod's API server.</summary>
    public static void Use(ISiloBuilder silo, IConfiguration configuration)
    {
        var apiServer = ClusterHostingExtensions.NonEmpty(configuration, ApiServerKey);
        var deleteDefunct = configuration.GetValue(DeleteDefunctPodsKey, true);
        silo.UseKubernetesHosting(options => options.Configure(o =>
        {
            o.DeleteDefunctSiloPods = deleteDefunct;
            if (apiServer is not null)
                o.GetClientConfiguration = () => new KubernetesClientConfiguration { Host = apiServer };
        }));
    }
}
