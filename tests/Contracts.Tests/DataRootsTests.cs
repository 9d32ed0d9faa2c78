namespace SrMobile.Contracts.Tests;

public class DataRootsTests
{
    private static readonly string Root = Path.Combine(Path.GetTempPath(), "srmobile-roots", "data");

    [Theory]
    [InlineData("train", true)]
    [InlineData("a/b/c", true)]
    [InlineData("", true)]
    [InlineData("a/../b", true)]
    [InlineData("..", false)]
    [InlineData("../data-other", false)]
    [InlineData("a/../../elsewhere", false)]
    public void A_path_under_a_root_is_inside_and_dot_dot_cannot_climb_out(string relative, bool inside)
    {
        var roots = new DataRoots([Root + Path.DirectorySeparatorChar]);
        Assert.Equal(inside, roots.Contains(relative.Length == 0 ? Root : Path.Combine(Root, relative)));
    }

    [Fact]
    public void A_folder_whose_name_extends_a_root_is_not_inside_it()
    {
        var roots = new DataRoots([Root]);
        Assert.False(roots.Contains(Root + "-secrets"));
        Assert.False(roots.Contains("/etc"));
    }

    [Fact]
    public void No_roots_configured_means_the_working_folder()
    {
        var roots = new DataRoots(["", "  "]);
        Assert.Equal([Path.TrimEndingDirectorySeparator(Environment.CurrentDirectory)], roots.Roots);
        Assert.True(roots.Contains("data/train"));
        Assert.False(roots.Contains("../outside"));
    }

    [Fact]
    public void Each_dataset_outside_every_root_is_an_error_naming_its_field_and_the_roots()
    {
        var other = Path.Combine(Path.GetTempPath(), "srmobile-roots", "more");
        var roots = new DataRoots([Root, other]);
        var errors = roots.Check(new SearchDatasets(Path.Combine(Root, "train"), Path.Combine(Root, "..", "val"), "/etc"));
        Assert.Equal(["datasets.validation", "datasets.calibration"], errors.Select(e => e.Field));
        foreach (var error in errors)
        {
            Assert.Contains($"outside every data root ({Root}, {other})", error.Message);
            Assert.Contains("SrMobile:DataRoots", error.Message);
        }
        Assert.Contains(Path.Combine(Path.GetTempPath(), "srmobile-roots", "val"), errors[0].Message);
        Assert.Empty(roots.Check(new SearchDatasets(Path.Combine(other, "x"), null, null)));
    }

    [Fact]
    public void A_path_that_is_not_a_path_is_an_error_not_an_exception()
    {
        var error = Assert.Single(new DataRoots([Root]).Check(new SearchDatasets("bad\0path", null, null)));
        Assert.Equal("datasets.train", error.Field);
        Assert.Contains("not a usable path", error.Message);
    }

    [Fact]
    public void The_reader_reports_datasets_outside_the_roots_together_with_every_other_problem()
    {
        var text = """
            name: roots
            scales: [5]
            depths: [1]
            widths: [4]
            quantization: [{kind: ptq}]
            datasets: {train: ../../escape, validation: data/val}
            devices: [local]
            """;
        var roots = new DataRoots([Environment.CurrentDirectory]);
        var (spec, errors) = SearchSpecReader.Parse(text, SpecLimits.Default with { DataRoots = roots });
        Assert.Null(spec);
        Assert.Equal(["scales[0]", "datasets.train"], errors.Select(e => e.Field));
        Assert.Empty(SearchSpecReader.Parse(text.Replace("../../escape", "data/train").Replace("[5]", "[3]"), SpecLimits.Default with { DataRoots = roots }).Errors);
        // A client that does not know the cluster's roots checks everything else.
        Assert.Equal(["scales[0]"], SearchSpecReader.Parse(text).Errors.Select(e => e.Field));
    }
}
