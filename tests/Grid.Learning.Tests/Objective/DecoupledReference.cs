using Grid.Core.Settings;

namespace Grid.Learning.Tests.Objective;

/// <summary>
/// The decoupled objective of docs/algorithm.md section 9 written out in plain double arithmetic, token by token, with
/// its gradient derived by hand, as an independent check of the tensor code (which shares none of it).
/// </summary>
internal static class DecoupledReference
{
    public sealed record Result(double[][] PerTokenLoss, double Loss, double[][] Grad, double MeanWeight, double MaxWeight,
        double CappedFraction);

    public static Result Compute(double[][] logp, double[][] prox, double[][] behav, double[][] reference,
        double[][] mask, double[] advantages, double beta, double epsLow, double epsHigh, LossType lossType,
        int maxCompletionLength, double? cap, ImportanceWeightCap capMode)
    {
        int b = logp.Length, t = logp[0].Length;
        var perToken = new double[b][];
        var grad = new double[b][];
        double loss = 0, tokens = 0, weightSum = 0, weightMax = double.NegativeInfinity, capped = 0;
        foreach (var row in mask)
        {
            tokens += row.Sum();
        }

        for (int i = 0; i < b; i++)
        {
            perToken[i] = new double[t];
            grad[i] = new double[t];
            double rowTokens = mask[i].Sum();
            double a = advantages[i];
            for (int j = 0; j < t; j++)
            {
                double u = Math.Exp(logp[i][j] - prox[i][j]);
                double clipped = Math.Min(Math.Max(u, 1 - epsLow), 1 + epsHigh);
                double unclippedTerm = u * a, clippedTerm = clipped * a;
                double surrogate = -Math.Min(unclippedTerm, clippedTerm);
                // The min picks the unclipped term (gradient -A u) unless the clipped one is strictly smaller, which
                // happens only outside the clip range, where the clipped ratio is a constant (gradient 0).
                double dSurrogate = clippedTerm < unclippedTerm ? 0 : -a * u;

                bool generated = mask[i][j] > 0;
                double rawWeight = !generated || prox[i][j] == behav[i][j] ? 1 : Math.Exp(prox[i][j] - behav[i][j]);
                double weight = rawWeight;
                if (cap is { } c && rawWeight > c)
                {
                    weight = capMode == ImportanceWeightCap.Truncate ? c : 0;
                    capped += generated ? 1 : 0;
                }

                if (generated)
                {
                    weightSum += rawWeight;
                    weightMax = Math.Max(weightMax, rawWeight);
                }

                double r = reference[i][j] - logp[i][j];
                double kl = Math.Exp(r) - r - 1;
                double dKl = 1 - Math.Exp(r);
                perToken[i][j] = (weight * surrogate) + (beta * kl);
                double share = lossType switch
                {
                    LossType.Grpo => mask[i][j] / Math.Max(rowTokens, 1) / b,
                    LossType.Bnpo => mask[i][j] / Math.Max(tokens, 1),
                    LossType.DrGrpo => mask[i][j] / ((double)b * maxCompletionLength),
                    _ => throw new ArgumentOutOfRangeException(nameof(lossType)),
                };
                loss += share * perToken[i][j];
                grad[i][j] = share * ((weight * dSurrogate) + (beta * dKl));
            }
        }

        return new Result(perToken, loss, grad, tokens > 0 ? weightSum / tokens : 1, tokens > 0 ? weightMax : 1,
            capped / Math.Max(tokens, 1));
    }
}
