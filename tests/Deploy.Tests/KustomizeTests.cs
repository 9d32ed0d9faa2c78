using System.Text.Json.Nodes;

namespace SrMobile.Deploy.Tests;

/// <summary>The renderer on small trees made in the test: each supported feature, and refusals of what it does not do.</summary>
public sealed class KustomizeTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("srmobile-kustomize-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private string Write(string relative, string text)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return Path.GetDirectoryName(path)!;
    }

    private const string Base = """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        namespace: shop
        labels:
          - pairs:
              team: a
        resources:
          - app.yaml
        images:
          - name: app
            newName: registry.local/app
            newTag: "1.0"
        """;

    private const string App = """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: 2
          template:
            metadata:
              labels:
                app: web
              annotations:
                port: "8080"
            spec:
              nodeSelector:
                kubernetes.io/arch: arm64
              containers:
                - name: web
                  image: app
                  env:
                    - name: A
                      value: "1"
                - name: sidecar
                  image: side:2
              volumes:
                - name: tls
                  secret:
                    secretName: tls
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata:
          name: binding
        subjects:
          - kind: ServiceAccount
            name: runner
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: Role
          name: role
        """;

    [Fact]
    public void Base_gets_namespace_labels_and_images_and_keeps_yaml_types()
    {
        var folder = Write("base/kustomization.yaml", Base);
        Write("base/app.yaml", App);

        var resources = Kustomize.Build(folder);

        Assert.Equal(3, resources.Count);
        var ns = resources.Single(r => Kustomize.Kind(r) == "Namespace");
        Assert.Null(ns["metadata"]!["namespace"]);
        var web = resources.Single(r => Kustomize.Kind(r) == "Deployment");
        Assert.Equal("shop", (string?)web["metadata"]!["namespace"]);
        Assert.Equal("a", (string?)web["metadata"]!["labels"]!["team"]);
        // labels without includeTemplates leave pod templates alone, as kustomize does.
        Assert.Null(web["spec"]!["template"]!["metadata"]!["labels"]!["team"]);
        Assert.Equal(2, (long)web["spec"]!["replicas"]!);
        Assert.Equal("8080", (string?)web["spec"]!["template"]!["metadata"]!["annotations"]!["port"]);
        var images = Kustomize.Containers(web).Select(c => (string?)c["image"]).ToList();
        Assert.Equal(["registry.local/app:1.0", "side:2"], images);
        var binding = resources.Single(r => Kustomize.Kind(r) == "RoleBinding");
        Assert.Equal("shop", (string?)binding["subjects"]![0]!["namespace"]);
    }

    [Fact]
    public void Overlay_patches_with_strategic_merge_and_renames_the_base_images()
    {
        Write("base/kustomization.yaml", Base);
        Write("base/app.yaml", App);
        var overlay = Write("overlay/kustomization.yaml", """
            resources:
              - ../base
            patches:
              - path: patch.yaml
            images:
              - name: registry.local/app
                newTag: "2.0"
            """);
        Write("overlay/patch.yaml", """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              replicas: 1
              template:
                spec:
                  nodeSelector: null
                  containers:
                    - name: web
                      env:
                        - name: B
                          value: "2"
                    - name: sidecar
                      $patch: delete
                  volumes:
                    - name: tls
                      secret:
                        optional: true
            """);

        var web = Kustomize.Build(overlay).Single(r => Kustomize.Kind(r) == "Deployment");

        var pod = Kustomize.PodSpec(web)!;
        Assert.Equal(1, (long)web["spec"]!["replicas"]!);
        Assert.False(pod.ContainsKey("nodeSelector"));
        var container = Assert.Single(Kustomize.Containers(web));
        Assert.Equal("registry.local/app:2.0", (string?)container["image"]);
        Assert.Equal(["A", "B"], container["env"]!.AsArray().Select(e => (string?)e!["name"]));
        var volume = pod["volumes"]![0]!;
        Assert.Equal("tls", (string?)volume["secret"]!["secretName"]);
        Assert.True((bool)volume["secret"]!["optional"]!);
    }

    [Fact]
    public void An_image_entry_or_a_patch_that_matches_nothing_is_an_error()
    {
        Write("base/kustomization.yaml", Base);
        Write("base/app.yaml", App);
        // The base already renamed `app`: an overlay naming it again matches nothing (kustomize would silently do nothing).
        var overlay = Write("images/kustomization.yaml", "resources: [../base]\nimages:\n  - name: app\n    newTag: \"2.0\"\n");
        Assert.Contains("matches no container image", Assert.Throws<InvalidDataException>(() => Kustomize.Build(overlay)).Message);

        var patched = Write("patch/kustomization.yaml", "resources: [../base]\npatches:\n  - path: patch.yaml\n");
        Write("patch/patch.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: webb\nspec:\n  replicas: 1\n");
        Assert.Contains("matches 0 resources", Assert.Throws<InvalidDataException>(() => Kustomize.Build(patched)).Message);
    }

    [Fact]
    public void Features_it_does_not_implement_are_refused_not_ignored()
    {
        Write("app.yaml", App);
        var folder = Write("kustomization.yaml", "resources: [app.yaml]\ncommonLabels:\n  a: b\n");
        Assert.Contains("commonLabels", Assert.Throws<NotSupportedException>(() => Kustomize.Build(folder)).Message);

        File.WriteAllText(Path.Combine(root, "kustomization.yaml"), "resources: [app.yaml]\nlabels:\n  - pairs: {a: b}\n    includeSelectors: true\n");
        Assert.Throws<NotSupportedException>(() => Kustomize.Build(root));

        File.WriteAllText(Path.Combine(root, "kustomization.yaml"), "resources: [missing.yaml]\n");
        Assert.Contains("does not exist", Assert.Throws<InvalidDataException>(() => Kustomize.Build(root)).Message);
    }

    [Fact]
    public void Yaml_scalars_keep_their_types()
    {
        var document = Yaml.LoadAll("a: 2\nb: \"2\"\nc: true\nd: 'true'\ne: ~\nf: 1.5\ng: 0.1.0\nh: |\n  x\n", "test").Single();

        Assert.Equal(2L, document["a"]!.GetValue<long>());
        Assert.Equal("2", document["b"]!.GetValue<string>());
        Assert.True(document["c"]!.GetValue<bool>());
        Assert.Equal("true", document["d"]!.GetValue<string>());
        Assert.Null(document["e"]);
        Assert.True(document.ContainsKey("e"));
        Assert.Equal(1.5, document["f"]!.GetValue<double>());
        Assert.Equal("0.1.0", document["g"]!.GetValue<string>());
        Assert.Equal("x\n", document["h"]!.GetValue<string>());
    }

    [Fact]
    public void Strategic_merge_replaces_lists_without_a_merge_key()
    {
        var target = JsonNode.Parse("""{"tolerations":[{"key":"a"}],"args":["x"],"containers":[{"name":"c","args":["1"]}]}""")!.AsObject();
        var patch = JsonNode.Parse("""{"tolerations":[{"key":"b"}],"containers":[{"name":"c","args":["2"]},{"name":"d"}]}""")!.AsObject();

        Kustomize.Merge(target, patch);

        Assert.Equal("""{"tolerations":[{"key":"b"}],"args":["x"],"containers":[{"name":"c","args":["2"]},{"name":"d"}]}""", target.ToJsonString());
    }
}
