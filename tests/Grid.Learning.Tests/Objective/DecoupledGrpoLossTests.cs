using Grid.Core.Settings;
using Grid.Learning.Objective;
using Grid.Learning.Tests.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Learning.Tests.Objective;

/// <summary>The decoupled objective of docs/algorithm.md section 9 (asynchronous GRPO-D).</summary>
public sealed class DecoupledGrpoLossTests
{
    public static TheoryData<int, bool> ReferenceCasesInBothPrecisions => new(
        from i in Enumerable.Range(0, ReferenceVectors.Instance.LossCases.Length)
        from float64 in new[] { true, false }
        select (i, float64));

    private static readonly GrpoLossSettings[] s_caps =
    [
        new(),
        new() { MaxImportanceWeight = 1.0000001, ImportanceWeightCap = ImportanceWeightCap.Drop },
        new() { MaxImportanceWeight = 1.0000001, ImportanceWeightCap = ImportanceWeightCap.Truncate },
    ];

    [Theory]
    [MemberData(nameof(ReferenceCasesInBothPrecisions))]
    public void Behaviour_equal_to_proximal_gives_the_synchronous_loss_and_gradient_bit_for_bit(int caseIndex, bool float64)
    {
        var c = ReferenceVectors.Instance.LossCases[caseIndex];
        var dtype = float64 ? ScalarType.Float64 : ScalarType.Float32;
        using var synchronous = GrpoLossReferenceTests.Run(c, dtype);
        synchronous.Result.Loss.backward();
        // The synchronous path itself still matches the PyTorch reference (what the other tests check in detail).
        Close.Equal(c.Expected.Loss, synchronous.Result.Loss.to_type(ScalarType.Float64).item<double>(),
            $"case {caseIndex} loss", float64 ? Close.Tolerance : 1e-4);

        foreach (var cap in s_caps)
        {
            var settings = Settings(c) with { MaxImportanceWeight = cap.MaxImportanceWeight, ImportanceWeightCap = cap.ImportanceWeightCap };
            using var logp = GrpoLossReferenceTests.Matrix(c.Logp, dtype).requires_grad_(true);
            using var proximal = GrpoLossReferenceTests.Matrix(c.OldLogp, dtype);
            using var behaviour = proximal.clone(); // passed explicitly: a different tensor with the same values
            using var reference = GrpoLossReferenceTests.Matrix(c.RefLogp, dtype);
            using var mask = GrpoLossReferenceTests.Matrix(c.Mask, dtype);
            using var advantages = tensor(c.Expected.Advantages, dtype: dtype);

            using var decoupled = GrpoLoss.ComputeDecoupled(logp, proximal, behaviour, reference, advantages, mask, c.Beta, settings);
            decoupled.Loss.backward();

            string what = $"case {caseIndex} {dtype} cap {cap.MaxImportanceWeight?.ToString() ?? "none"} {cap.ImportanceWeightCap}";
            AssertSameBits(synchronous.Result.Loss, decoupled.Loss, what + " loss");
            AssertSameBits(synchronous.Result.PerTokenLoss, decoupled.PerTokenLoss, what + " per-token loss");
            AssertSameBits(synchronous.Logp.grad!, logp.grad!, what + " d loss / d logp");
            Assert.Equal(synchronous.Result.ClipFraction, decoupled.ClipFraction);
            Assert.Equal(synchronous.Result.MeanKl, decoupled.MeanKl);
            Assert.Equal(ImportanceWeightStatistics.Synchronous, decoupled.ImportanceWeights);
        }
    }

    [Fact]
    public void Without_behaviour_log_probs_the_result_reports_weight_one_and_nothing_capped()
    {
        using var run = GrpoLossReferenceTests.Run(ReferenceVectors.Instance.LossCases[0], ScalarType.Float64);

        Assert.Equal(new ImportanceWeightStatistics(1.0, 1.0, 0.0), run.Result.ImportanceWeights);
    }

    [Theory]
    [InlineData(null, ImportanceWeightCap.Drop, -2.0, -2.0)]        // w = 2, uncapped
    [InlineData(1.5, ImportanceWeightCap.Truncate, -1.5, -1.5)]     // w -> 1.5
    [InlineData(1.5, ImportanceWeightCap.Drop, 0.0, 0.0)]           // AReaL: the token's policy term is dropped
    [InlineData(3.0, ImportanceWeightCap.Drop, -2.0, -2.0)]         // under the cap: untouched
    public void A_stale_token_is_weighted_by_proximal_over_behaviour_and_capped_as_configured(
        double? cap, ImportanceWeightCap mode, double expectedLoss, double expectedGrad)
    {
        // One token, A = 1, pi_theta = pi_prox (u = 1), pi_behav = pi_prox / 2: w = 2, l = -w * u * A = -2,
        // d l / d logp = -w * A * u = -2; beta = 0.
        using var logp = tensor(new[] { -1.0 }, [1, 1]).requires_grad_(true);
        using var proximal = logp.detach().clone();
        using var behaviour = proximal - Math.Log(2);
        using var mask = ones(1, 1, dtype: ScalarType.Float64);
        using var advantages = tensor(new[] { 1.0 });
        var settings = new GrpoLossSettings { MaxImportanceWeight = cap, ImportanceWeightCap = mode };

        using var result = GrpoLoss.ComputeDecoupled(logp, proximal, behaviour, proximal, advantages, mask, 0.0, settings);
        result.Loss.backward();

        Assert.Equal(expectedLoss, result.Loss.item<double>(), 12);
        Assert.Equal(expectedGrad, logp.grad!.item<double>(), 12);
        Assert.Equal(2.0, result.ImportanceWeights.Mean, 12);
        Assert.Equal(2.0, result.ImportanceWeights.Max, 12);
        Assert.Equal(cap is < 2.0 ? 1.0 : 0.0, result.ImportanceWeights.CappedFraction);
    }

    [Theory]
    // u = 1.5 (log 1.5 above pi_prox), eps 0.2: clipped at 1.2 for A > 0 (no gradient), unclipped for A < 0.
    [InlineData(1.5, 1.0, -1.2, 0.0, 1.0)]
    [InlineData(1.5, -1.0, 1.5, 1.5, 0.0)]
    // u = 0.5: clipped at 0.8 for A < 0 (no gradient), unclipped for A > 0.
    [InlineData(0.5, -1.0, 0.8, 0.0, 1.0)]
    [InlineData(0.5, 1.0, -0.5, -0.5, 0.0)]
    public void The_ratio_is_clipped_around_the_proximal_policy_on_both_sides_and_the_weight_scales_the_result(
        double u, double a, double surrogate, double surrogateGrad, double clipped)
    {
        // pi_behav = pi_prox / 0.8, so w = 0.8 (a rollout the policy has since made less likely).
        const double W = 0.8;
        using var proximal = tensor(new[] { -2.0 }, [1, 1]);
        using var logp = (proximal + Math.Log(u)).requires_grad_(true);
        using var behaviour = proximal - Math.Log(W);
        using var mask = ones(1, 1, dtype: ScalarType.Float64);
        using var advantages = tensor(new[] { a });

        using var result = GrpoLoss.ComputeDecoupled(logp, proximal, behaviour, proximal, advantages, mask, 0.0, new GrpoLossSettings());
        result.Loss.backward();

        Assert.Equal(W * surrogate, result.Loss.item<double>(), 12);
        Assert.Equal(W * surrogateGrad, logp.grad!.item<double>(), 12);
        Assert.Equal(clipped, result.ClipFraction);
        Assert.Equal(a < 0 ? clipped : 0.0, result.ClipFractionLow);
        Assert.Equal(a > 0 ? clipped : 0.0, result.ClipFractionHigh);
    }

    [Fact]
    public void The_kl_term_is_k3_against_the_reference_weighted_by_beta_and_not_by_the_importance_weight()
    {
        // w = 2, u = 1, A = 1, ref = logp - log 2: kl = 1/2 + log 2 - 1, d kl / d logp = 1 - 1/2.
        const double Beta = 0.5;
        using var logp = tensor(new[] { -1.0 }, [1, 1]).requires_grad_(true);
        using var proximal = logp.detach().clone();
        using var behaviour = proximal - Math.Log(2);
        using var reference = proximal - Math.Log(2);
        using var mask = ones(1, 1, dtype: ScalarType.Float64);
        using var advantages = tensor(new[] { 1.0 });

        using var result = GrpoLoss.ComputeDecoupled(logp, proximal, behaviour, reference, advantages, mask, Beta, new GrpoLossSettings());
        result.Loss.backward();

        double kl = 0.5 + Math.Log(2) - 1;
        Assert.Equal(-2.0 + (Beta * kl), result.Loss.item<double>(), 12);
        Assert.Equal(-2.0 + (Beta * 0.5), logp.grad!.item<double>(), 12);
        Assert.Equal(kl, result.MeanKl, 12);
    }

    public static TheoryData<string, double, string> RandomCases => new(
        from lossType in new[] { "grpo", "bnpo", "dr_grpo" }
        from beta in new[] { 0.0, 0.04 }
        from cap in new[] { "none", "drop", "truncate" }
        select (lossType, beta, cap));

    [Theory]
    [MemberData(nameof(RandomCases))]
    public void Stale_batches_match_an_independent_double_precision_computation(string lossType, double beta, string cap)
    {
        // Behaviour up to 1 nat away from proximal (weights from 0.37 to 2.7, so a cap of 1.5 bites), pi_theta up to
        // 0.5 nat away (both clip sides), mixed advantage signs, padding whose behaviour log-probs are garbage.
        var random = new Random(18);
        const int B = 6, T = 7;
        var prox = Fill(B, T, () => -0.1 - (3 * random.NextDouble()));
        var logp = Fill(B, T, (i, j) => prox[i][j] + (random.NextDouble() - 0.5));
        var behav = Fill(B, T, (i, j) => prox[i][j] + ((2 * random.NextDouble()) - 1));
        var reference = Fill(B, T, (i, j) => prox[i][j] + (0.6 * (random.NextDouble() - 0.5)));
        int[] lengths = [7, 5, 1, 3, 7, 0];
        var mask = Fill(B, T, (i, j) => j < lengths[i] ? 1.0 : 0.0);
        behav[1][6] = double.NegativeInfinity; // padding: must not turn the loss or the gradient into NaN
        behav[5][0] = 0.0;
        behav[3][1] = prox[3][1];              // an unchanged token inside a stale row: weight exactly 1
        double[] advantages = [1.2, -0.7, 0.3, -1.5, 0.0, 0.9];
        var settings = new GrpoLossSettings
        {
            EpsLow = 0.2,
            EpsHigh = 0.28,
            LossType = SettingNames<LossType>.Parse("loss_type", lossType),
            MaxCompletionLength = T,
            MaxImportanceWeight = cap == "none" ? null : 1.5,
            ImportanceWeightCap = cap == "truncate" ? ImportanceWeightCap.Truncate : ImportanceWeightCap.Drop,
        };
        var expected = DecoupledReference.Compute(logp, prox, behav, reference, mask, advantages, beta, settings.EpsLow,
            settings.EpsHigh, settings.LossType, T, settings.MaxImportanceWeight, settings.ImportanceWeightCap);

        using var logpT = GrpoLossReferenceTests.Matrix(logp, ScalarType.Float64).requires_grad_(true);
        using var proxT = GrpoLossReferenceTests.Matrix(prox, ScalarType.Float64);
        using var behavT = GrpoLossReferenceTests.Matrix(behav, ScalarType.Float64);
        using var refT = GrpoLossReferenceTests.Matrix(reference, ScalarType.Float64);
        using var maskT = GrpoLossReferenceTests.Matrix(mask, ScalarType.Float64);
        using var advT = tensor(advantages);
        using var result = GrpoLoss.ComputeDecoupled(logpT, proxT, behavT, refT, advT, maskT, beta, settings);
        result.Loss.backward();

        const double Tolerance = 1e-12;
        Close.Equal(expected.Loss, result.Loss.item<double>(), "loss", Tolerance);
        Close.Equal(expected.PerTokenLoss, result.PerTokenLoss.data<double>().ToArray(), "per-token loss", Tolerance);
        Close.Equal(expected.Grad, logpT.grad!.data<double>().ToArray(), "d loss / d logp", Tolerance);
        Close.Equal(expected.MeanWeight, result.ImportanceWeights.Mean, "mean weight", Tolerance);
        Close.Equal(expected.MaxWeight, result.ImportanceWeights.Max, "max weight", Tolerance);
        Close.Equal(expected.CappedFraction, result.ImportanceWeights.CappedFraction, "capped fraction", Tolerance);
        Assert.True(expected.MaxWeight > 1.5, "the case must reach the cap");
        Assert.True(expected.Grad.SelectMany(g => g).Any(g => g != 0), "the case must have a gradient");
    }

    [Fact]
    public void Selecting_behaviour_rows_keeps_current_version_rows_on_the_proximal_log_probs()
    {
        using var proximal = tensor(new[] { -1.0, -2.0, -0.5, -3.0 }, [2, 2]);
        // Row 0 was sampled by the current version: the sampler's numbers differ from the learner's by rounding only.
        using var sampling = tensor(new[] { -1.0000001, -1.9999999, -0.9, -2.5 }, [2, 2]);

        using var none = BehaviourLogProbs.Select(proximal, sampling, [false, false]);
        using var mixed = BehaviourLogProbs.Select(proximal, sampling, [false, true]);

        Assert.Null(none);
        Assert.NotNull(mixed);
        Assert.Equal([-1.0, -2.0, -0.9, -2.5], mixed.data<double>().ToArray());
        Assert.Throws<ArgumentException>(() => BehaviourLogProbs.Select(proximal, sampling, [true]));
    }

    [Fact]
    public void A_batch_with_fresh_and_stale_rows_keeps_the_fresh_rows_synchronous_bit_for_bit()
    {
        var c = ReferenceVectors.Instance.LossCases[5];
        using var synchronous = GrpoLossReferenceTests.Run(c, ScalarType.Float32);
        using var logp = GrpoLossReferenceTests.Matrix(c.Logp, ScalarType.Float32).requires_grad_(true);
        using var proximal = GrpoLossReferenceTests.Matrix(c.OldLogp, ScalarType.Float32);
        using var sampling = proximal - 0.3;
        using var reference = GrpoLossReferenceTests.Matrix(c.RefLogp, ScalarType.Float32);
        using var mask = GrpoLossReferenceTests.Matrix(c.Mask, ScalarType.Float32);
        using var advantages = tensor(c.Expected.Advantages, dtype: ScalarType.Float32);
        var stale = Enumerable.Range(0, c.Logp.Length).Select(i => i == 0).ToArray();
        using var behaviour = BehaviourLogProbs.Select(proximal, sampling, stale);

        using var result = GrpoLoss.ComputeDecoupled(logp, proximal, behaviour, reference, advantages, mask, c.Beta, Settings(c));

        for (int row = 1; row < c.Logp.Length; row++)
        {
            AssertSameBits(synchronous.Result.PerTokenLoss[row], result.PerTokenLoss[row], $"row {row}");
        }

        double w = Math.Exp(0.3);
        double generated = c.Mask.Sum(r => r.Sum());
        Close.Equal((((generated - c.Mask[0].Sum()) * 1.0) + (c.Mask[0].Sum() * w)) / generated, result.ImportanceWeights.Mean,
            "mean weight", 1e-5);
        Assert.Equal(c.Mask[0].Sum() > 0 ? w : 1.0, result.ImportanceWeights.Max, 5);
    }

    [Fact]
    public void A_cap_of_one_or_less_is_refused_naming_the_setting()
    {
        var error = Assert.Throws<InvalidSettingException>(() => new GrpoLossSettings { MaxImportanceWeight = 1.0 }.Validate());

        Assert.Equal("max_importance_weight", error.Setting);
        Assert.Contains("> 1", error.Message);
        Assert.Throws<InvalidSettingException>(() => new GrpoLossSettings { MaxImportanceWeight = double.PositiveInfinity }.Validate());
        Assert.Throws<InvalidSettingException>(() => new GrpoLossSettings { ImportanceWeightCap = (ImportanceWeightCap)7 }.Validate());
        Assert.Equal(["drop", "truncate"], SettingNames<ImportanceWeightCap>.All);
    }

    [Fact]
    public void Behaviour_log_probs_of_another_shape_are_refused_naming_them()
    {
        using var logp = zeros(2, 3, dtype: ScalarType.Float64);
        using var behaviour = zeros(2, 2, dtype: ScalarType.Float64);
        using var mask = ones(2, 3, dtype: ScalarType.Float64);
        using var advantages = zeros(2, dtype: ScalarType.Float64);

        var error = Assert.Throws<ArgumentException>(() =>
            GrpoLoss.ComputeDecoupled(logp, logp, behaviour, logp, advantages, mask, 0.0, new GrpoLossSettings()));

        Assert.Contains("behaviourLogp", error.Message);
    }

    private static GrpoLossSettings Settings(LossCase c) => new()
    {
        EpsLow = c.EpsLow,
        EpsHigh = c.EpsHigh,
        LossType = SettingNames<LossType>.Parse("loss_type", c.LossType),
        MaxCompletionLength = c.MaxCompletionLength,
    };

    private static void AssertSameBits(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        using var e = expected.detach().to_type(ScalarType.Float64).flatten();
        using var a = actual.detach().to_type(ScalarType.Float64).flatten();
        var eBits = e.data<double>().ToArray().Select(BitConverter.DoubleToInt64Bits).ToArray();
        var aBits = a.data<double>().ToArray().Select(BitConverter.DoubleToInt64Bits).ToArray();
        Assert.True(eBits.SequenceEqual(aBits), $"{what}: not bit-identical");
        using var equal = expected.eq(actual);
        Assert.True(equal.all().item<bool>() || expected.isnan().any().item<bool>(), $"{what}: not equal");
    }

    private static double[][] Fill(int rows, int columns, Func<double> value) => Fill(rows, columns, (_, _) => value());

    private static double[][] Fill(int rows, int columns, Func<int, int, double> value) =>
        [.. Enumerable.Range(0, rows).Select(i => Enumerable.Range(0, columns).Select(j => value(i, j)).ToArray())];
}
