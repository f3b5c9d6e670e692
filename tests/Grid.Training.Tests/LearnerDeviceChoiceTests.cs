using TorchSharp;

namespace Grid.Training.Tests;

/// <summary>
/// The learner's device rule (<see cref="LearnerDeviceChoice.Decide"/>) for every case, CUDA ones included: the rule is
/// pure, so the GPU branches are checked here although this machine has no GPU (what libtorch reports on a real GPU node
/// is not; docs/deployment.md says how to check it there).
/// </summary>
public sealed class LearnerDeviceChoiceTests
{
    [Fact]
    public void A_silo_without_gpus_trains_on_the_cpu_quietly()
    {
        foreach (bool cuda in new[] { false, true })
        {
            var choice = LearnerDeviceChoice.Decide(declaredGpus: 0, cudaAvailable: cuda, cudaDevices: cuda ? 2 : 0);

            Assert.Equal(DeviceType.CPU, choice.Device.type);
            Assert.False(choice.IsWarning);
            Assert.Contains("trains on the CPU", choice.Message);
        }
    }

    [Fact]
    public void A_silo_that_declares_gpus_without_cuda_trains_on_the_cpu_and_warns_how_to_fix_it()
    {
        var choice = LearnerDeviceChoice.Decide(declaredGpus: 1, cudaAvailable: false, cudaDevices: 0);

        Assert.Equal(DeviceType.CPU, choice.Device.type);
        Assert.True(choice.IsWarning);
        Assert.Contains("declares 1 GPU (--gpu 1)", choice.Message);
        Assert.Contains("-p:TorchBackend=cuda", choice.Message);
    }

    [Fact]
    public void Cuda_that_reports_no_device_counts_as_no_cuda()
    {
        var choice = LearnerDeviceChoice.Decide(declaredGpus: 2, cudaAvailable: true, cudaDevices: 0);

        Assert.Equal(DeviceType.CPU, choice.Device.type);
        Assert.True(choice.IsWarning);
        Assert.Contains("2 GPUs", choice.Message);
    }

    [Fact]
    public void A_gpu_silo_with_cuda_trains_on_cuda_0_and_says_so()
    {
        var choice = LearnerDeviceChoice.Decide(declaredGpus: 1, cudaAvailable: true, cudaDevices: 4);

        Assert.Equal(DeviceType.CUDA, choice.Device.type);
        Assert.Equal(0, choice.Device.index);
        Assert.True(choice.IsCuda);
        Assert.False(choice.IsWarning);
        Assert.Equal("trains on CUDA device cuda:0 of 4 visible", choice.Message);
    }

    [Fact]
    public void Fewer_visible_devices_than_declared_still_trains_on_cuda_and_says_what_it_sees()
    {
        var choice = LearnerDeviceChoice.Decide(declaredGpus: 2, cudaAvailable: true, cudaDevices: 1);

        Assert.True(choice.IsCuda);
        Assert.Contains("declares 2 GPUs but libtorch sees 1", choice.Message);
    }

    [Fact]
    public void On_this_machine_the_probe_agrees_with_libtorch()
    {
        var probed = LearnerDeviceChoice.Probe(declaredGpus: 1);

        Assert.Equal(torch.cuda.is_available(), probed.IsCuda);
        Assert.Equal(!torch.cuda.is_available(), probed.IsWarning);
    }

    [Fact]
    public void A_negative_gpu_count_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LearnerDeviceChoice.Decide(-1, false, 0));
    }
}
