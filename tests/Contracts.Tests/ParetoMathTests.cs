namespace SrMobile.Contracts.Tests;

public class ParetoMathTests
{
    private static ParetoPoint P(string key, double psnr, double ms) => new(key, psnr, ms);

    [Fact]
    public void The_front_keeps_exactly_the_non_dominated_points()
    {
        var points = new[]
        {
            P("fast-poor", 29.0, 10), P("dominated", 28.5, 15), P("mid", 30.0, 20),
            P("slow-best", 30.5, 40), P("slower-worse", 30.2, 50), P("tie-time-worse", 29.5, 20),
        };
        Assert.Equal(["fast-poor", "mid", "slow-best"], ParetoMath.Front(points).Select(p => p.CandidateKey));
    }

    [Fact]
    public void Hypervolume_is_the_dominated_staircase_area()
    {
        var front = ParetoMath.Front([P("a", 22, 100), P("b", 24, 300)]);
        // a owns [100, 300) × (20, 22]; b owns [300, 1000) × (20, 24].
        Assert.Equal((200 * 2) + (700 * 4), ParetoMath.Hypervolume(front), 9);
        Assert.Equal(0, ParetoMath.Hypervolume(ParetoMath.Front([P("under-floor", 19, 10), P("over-ceiling", 30, 2000)])));
    }

    [Fact]
    public void Adding_a_dominating_point_never_lowers_the_hypervolume()
    {
        var before = ParetoMath.Hypervolume(ParetoMath.Front([P("a", 25, 200), P("b", 27, 400)]));
        var after = ParetoMath.Hypervolume(ParetoMath.Front([P("a", 25, 200), P("b", 27, 400), P("c", 26, 150)]));
        Assert.True(after > before);
    }

    [Fact]
    public void Mai_score_doubles_per_half_db_and_halves_with_twice_the_time()
    {
        var baseline = ParetoMath.MaiScore(30, 50);
        Assert.Equal(2 * baseline, ParetoMath.MaiScore(30.5, 50), 6);
        Assert.Equal(baseline / 2, ParetoMath.MaiScore(30, 100), 6);
        Assert.Equal(baseline / 4, ParetoMath.MaiScore(30, 50, constant: 4), 6);
    }

    [Fact]
    public void Near_front_points_are_the_front_and_those_within_five_percent_of_a_faster_as_accurate_point()
    {
        var points = new[]
        {
            P("a", 30, 100), P("b", 30.5, 103), P("within", 29, 104.9), P("just-beyond", 29.5, 105.2),
            P("far", 28, 200), P("slow-best", 31, 300),
        };
        // Front points first (by time), then the others by how far they are from the front.
        Assert.Equal(["a", "b", "slow-best", "within"], ParetoMath.NearFront(points).Select(p => p.CandidateKey));
        Assert.Equal(["a", "b", "slow-best", "within", "just-beyond"], ParetoMath.NearFront(points, tolerance: 0.06).Select(p => p.CandidateKey));
        Assert.Empty(ParetoMath.NearFront([]));
        Assert.Equal(["only"], ParetoMath.NearFront([P("only", 30, 10)]).Select(p => p.CandidateKey));
    }

    [Fact]
    public void Two_candidates_with_the_same_numbers_are_both_near_the_front()
    {
        // Identical graphs measure alike: either may be the one a noisy first measurement put ahead.
        Assert.Equal(["ptq", "qat"], ParetoMath.NearFront([P("ptq", 30, 50), P("qat", 30, 50), P("other", 29, 80)]).Select(p => p.CandidateKey));
    }

    [Fact]
    public void A_confirmation_job_names_its_front_and_a_candidate_job_names_none()
    {
        var front = ParetoKeys.Of("demo", 3, "rk3588-a76");
        Assert.Equal("rk3588-a76", ParetoKeys.DeviceOf(front));
        Assert.Equal(front, ParetoKeys.ConfirmedFront(ParetoKeys.ConfirmationPayload(front)));
        Assert.Null(ParetoKeys.ConfirmedFront("demo/x3-m4-c28/ptq-minmax-100/abc"));
        Assert.Equal("demo/x3/rk3588-a76/confirm", ParetoKeys.ConfirmationJobId(front));
    }
}
