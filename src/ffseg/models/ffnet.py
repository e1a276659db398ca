"""Every FFNet of the official release, registered under lowercase names.

Names read ``ffnet<depth><family>_<d?><stem><up-head><head>[_mobile][_pre_down]``; the official
names (``segmentation_ffnet40S_BBB_mobile_pre_down``, ``classification_ffnet54S_BBX_mobile``,
the ``..._train`` examples) are aliases. Each variant only states its hyper-parameters; the
architecture is :class:`~ffseg.models.ffnet_arch.FFNet`.

Published numbers (``pretrained_cfg.published``) are the official README's: Cityscapes val mIoU
and, for the GPU families, the authors' GPU latency at 1024x2048 in ms. They are the authors'
measurements, not ffseg's.
"""

from __future__ import annotations

from typing import Any

from ffseg.classes import CITYSCAPES_CLASSES, imagenet_classes
from ffseg.models._registry import register_model
from ffseg.models.ffnet_arch import FFNet, FFNetEncoder, FFNetUpHead
from ffseg.models.resnet import BACKBONES

__all__ = ["FFNET_LICENSE", "FFNet", "FFNetEncoder", "FFNetUpHead"]

FFNET_LICENSE = (
    "ffseg's FFNet code is an independent implementation (Apache-2.0). The official FFNet "
    "weights are distributed under the official release's own restrictive license and an "
    "export-control notice: read it before using them, especially commercially."
)
FFNET_PAPER = (
    "Mehta et al., Simple and Efficient Architectures for Semantic Segmentation (FFNet), "
    "CVPR Workshops 2022"
)


def _ffnet(
    name: str,
    backbone: str,
    letters: str,
    *,
    input_hw: tuple[int, int],
    weight_file: str | None = None,
    published: dict[str, float] | None = None,
    num_classes: int | None = None,
    **kwargs: Any,
) -> FFNet:
    """Build a registered FFNet variant; ``letters`` = stem, up-head and head letters."""
    stem, up_head, head = letters
    if BACKBONES[backbone].stem != stem:
        raise ValueError(f"{name}: backbone {backbone} has stem {BACKBONES[backbone].stem}")
    classification = head == "X"
    default_classes = 1000 if classification else 19
    n = default_classes if num_classes is None else num_classes
    model = FFNet(backbone, up_head, head, num_classes=n, **kwargs)
    classes = None
    if n == default_classes:
        classes = imagenet_classes() if classification else CITYSCAPES_CLASSES
    model.pretrained_cfg = model.pretrained_cfg.replace(
        architecture=name,
        input_size=(3, *input_hw),
        dataset="imagenet" if classification else "cityscapes",
        classes=classes,
        published=dict(published or {}),
        weight_file=weight_file,
        license=FFNET_LICENSE,
        paper=FFNET_PAPER,
        family="ffnet",
        min_input_size=(64, 64),
    )
    return model


@register_model(aliases=("segmentation_ffnet86S_dBBB_mobile",))
def ffnet86s_dbbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 86S_dBBB_mobile: Cityscapes segmentation (nearest upsampling, strided first stage)."""
    return _ffnet(
        "ffnet86s_dbbb_mobile",
        "resnet86s",
        "BBB",
        mobile=True,
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet86S/ffnet86S_dBBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.5),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet78S_dBBB_mobile",))
def ffnet78s_dbbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 78S_dBBB_mobile: Cityscapes segmentation (nearest upsampling, strided first stage)."""
    return _ffnet(
        "ffnet78s_dbbb_mobile",
        "resnet78s",
        "BBB",
        mobile=True,
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet78S/ffnet78S_dBBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.3),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet54S_dBBB_mobile",))
def ffnet54s_dbbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 54S_dBBB_mobile: Cityscapes segmentation (nearest upsampling, strided first stage)."""
    return _ffnet(
        "ffnet54s_dbbb_mobile",
        "resnet54s",
        "BBB",
        mobile=True,
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet54S/ffnet54S_dBBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.8),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet40S_dBBB_mobile",))
def ffnet40s_dbbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 40S_dBBB_mobile: Cityscapes segmentation (nearest upsampling, strided first stage)."""
    return _ffnet(
        "ffnet40s_dbbb_mobile",
        "resnet40s",
        "BBB",
        mobile=True,
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet40S/ffnet40S_dBBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.2),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet150S_BBB_mobile_pre_down",))
def ffnet150s_bbb_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 150S_BBB_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet150s_bbb_mobile_pre_down",
        "resnet150s",
        "BBB",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet150S/ffnet150S_BBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.6),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet86S_BBB_mobile_pre_down",))
def ffnet86s_bbb_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 86S_BBB_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet86s_bbb_mobile_pre_down",
        "resnet86s",
        "BBB",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet86S/ffnet86S_BBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.9),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet78S_BBB_mobile_pre_down",))
def ffnet78s_bbb_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 78S_BBB_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet78s_bbb_mobile_pre_down",
        "resnet78s",
        "BBB",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet78S/ffnet78S_BBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.5),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet54S_BBB_mobile_pre_down",))
def ffnet54s_bbb_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 54S_BBB_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet54s_bbb_mobile_pre_down",
        "resnet54s",
        "BBB",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet54S/ffnet54S_BBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.2),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet40S_BBB_mobile_pre_down",))
def ffnet40s_bbb_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 40S_BBB_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet40s_bbb_mobile_pre_down",
        "resnet40s",
        "BBB",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet40S/ffnet40S_BBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.7),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet150S_BCC_mobile_pre_down",))
def ffnet150s_bcc_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 150S_BCC_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet150s_bcc_mobile_pre_down",
        "resnet150s",
        "BCC",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet150S/ffnet150S_BCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.0),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet86S_BCC_mobile_pre_down",))
def ffnet86s_bcc_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 86S_BCC_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet86s_bcc_mobile_pre_down",
        "resnet86s",
        "BCC",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet86S/ffnet86S_BCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.0),
        **kwargs,
    )


@register_model(
    aliases=(
        "segmentation_ffnet78S_BCC_mobile_pre_down",
        "segmentation_ffnet78S_BCC_mobile_pre_down_train",
    )
)
def ffnet78s_bcc_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 78S_BCC_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet78s_bcc_mobile_pre_down",
        "resnet78s",
        "BCC",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet78S/ffnet78S_BCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.6),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet54S_BCC_mobile_pre_down",))
def ffnet54s_bcc_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 54S_BCC_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet54s_bcc_mobile_pre_down",
        "resnet54s",
        "BCC",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet54S/ffnet54S_BCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.9),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet40S_BCC_mobile_pre_down",))
def ffnet40s_bcc_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 40S_BCC_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet40s_bcc_mobile_pre_down",
        "resnet40s",
        "BCC",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet40S/ffnet40S_BCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=78.4),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet150S_BBB_mobile",))
def ffnet150s_bbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 150S_BBB_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet150s_bbb_mobile",
        "resnet150s",
        "BBB",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet150S/ffnet150S_BBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.6),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet86S_BBB_mobile",))
def ffnet86s_bbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 86S_BBB_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet86s_bbb_mobile",
        "resnet86s",
        "BBB",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet86S/ffnet86S_BBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.9),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet78S_BBB_mobile",))
def ffnet78s_bbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 78S_BBB_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet78s_bbb_mobile",
        "resnet78s",
        "BBB",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet78S/ffnet78S_BBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.5),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet54S_BBB_mobile",))
def ffnet54s_bbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 54S_BBB_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet54s_bbb_mobile",
        "resnet54s",
        "BBB",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet54S/ffnet54S_BBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.2),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet40S_BBB_mobile",))
def ffnet40s_bbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 40S_BBB_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet40s_bbb_mobile",
        "resnet40s",
        "BBB",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet40S/ffnet40S_BBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.7),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet150S_BCC_mobile",))
def ffnet150s_bcc_mobile(**kwargs: Any) -> FFNet:
    """FFNet 150S_BCC_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet150s_bcc_mobile",
        "resnet150s",
        "BCC",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet150S/ffnet150S_BCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.0),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet86S_BCC_mobile",))
def ffnet86s_bcc_mobile(**kwargs: Any) -> FFNet:
    """FFNet 86S_BCC_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet86s_bcc_mobile",
        "resnet86s",
        "BCC",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet86S/ffnet86S_BCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.0),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet78S_BCC_mobile",))
def ffnet78s_bcc_mobile(**kwargs: Any) -> FFNet:
    """FFNet 78S_BCC_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet78s_bcc_mobile",
        "resnet78s",
        "BCC",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet78S/ffnet78S_BCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.6),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet54S_BCC_mobile",))
def ffnet54s_bcc_mobile(**kwargs: Any) -> FFNet:
    """FFNet 54S_BCC_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet54s_bcc_mobile",
        "resnet54s",
        "BCC",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet54S/ffnet54S_BCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.9),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet40S_BCC_mobile",))
def ffnet40s_bcc_mobile(**kwargs: Any) -> FFNet:
    """FFNet 40S_BCC_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet40s_bcc_mobile",
        "resnet40s",
        "BCC",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet40S/ffnet40S_BCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=78.4),
        **kwargs,
    )


@register_model(aliases=("classification_ffnet150S_BBX_mobile",))
def ffnet150s_bbx_mobile(**kwargs: Any) -> FFNet:
    """FFNet 150S_BBX_mobile: ImageNet classifier (nearest upsampling)."""
    return _ffnet(
        "ffnet150s_bbx_mobile",
        "resnet150s",
        "BBX",
        mobile=True,
        input_hw=(224, 224),
        weight_file="ffnet150S/ffnet150S_BBX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet86S_BBX_mobile",))
def ffnet86s_bbx_mobile(**kwargs: Any) -> FFNet:
    """FFNet 86S_BBX_mobile: ImageNet classifier (nearest upsampling)."""
    return _ffnet(
        "ffnet86s_bbx_mobile",
        "resnet86s",
        "BBX",
        mobile=True,
        input_hw=(224, 224),
        weight_file="ffnet86S/ffnet86S_BBX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet78S_BBX_mobile",))
def ffnet78s_bbx_mobile(**kwargs: Any) -> FFNet:
    """FFNet 78S_BBX_mobile: ImageNet classifier (nearest upsampling)."""
    return _ffnet(
        "ffnet78s_bbx_mobile",
        "resnet78s",
        "BBX",
        mobile=True,
        input_hw=(224, 224),
        weight_file="ffnet78S/ffnet78S_BBX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet54S_BBX_mobile",))
def ffnet54s_bbx_mobile(**kwargs: Any) -> FFNet:
    """FFNet 54S_BBX_mobile: ImageNet classifier (nearest upsampling)."""
    return _ffnet(
        "ffnet54s_bbx_mobile",
        "resnet54s",
        "BBX",
        mobile=True,
        input_hw=(224, 224),
        weight_file="ffnet54S/ffnet54S_BBX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet40S_BBX_mobile",))
def ffnet40s_bbx_mobile(**kwargs: Any) -> FFNet:
    """FFNet 40S_BBX_mobile: ImageNet classifier (nearest upsampling)."""
    return _ffnet(
        "ffnet40s_bbx_mobile",
        "resnet40s",
        "BBX",
        mobile=True,
        input_hw=(224, 224),
        weight_file="ffnet40S/ffnet40S_BBX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(
    aliases=(
        "segmentation_ffnet122NS_CBB_mobile_pre_down",
        "segmentation_ffnet122NS_CBB_mobile_pre_down_train",
    )
)
def ffnet122ns_cbb_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 122NS_CBB_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet122ns_cbb_mobile_pre_down",
        "resnet122ns",
        "CBB",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet122NS/ffnet122NS_CBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.3),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet74NS_CBB_mobile_pre_down",))
def ffnet74ns_cbb_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 74NS_CBB_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet74ns_cbb_mobile_pre_down",
        "resnet74ns",
        "CBB",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet74NS/ffnet74NS_CBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=78.3),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet46NS_CBB_mobile_pre_down",))
def ffnet46ns_cbb_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 46NS_CBB_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet46ns_cbb_mobile_pre_down",
        "resnet46ns",
        "CBB",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet46NS/ffnet46NS_CBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=77.5),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet122NS_CCC_mobile_pre_down",))
def ffnet122ns_ccc_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 122NS_CCC_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet122ns_ccc_mobile_pre_down",
        "resnet122ns",
        "CCC",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet122NS/ffnet122NS_CCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.2),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet74NS_CCC_mobile_pre_down",))
def ffnet74ns_ccc_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 74NS_CCC_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet74ns_ccc_mobile_pre_down",
        "resnet74ns",
        "CCC",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet74NS/ffnet74NS_CCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=77.8),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet46NS_CCC_mobile_pre_down",))
def ffnet46ns_ccc_mobile_pre_down(**kwargs: Any) -> FFNet:
    """FFNet 46NS_CCC_mobile_pre_down: Cityscapes segmentation (nearest upsampling, Gaussian pre-downsampling)."""
    return _ffnet(
        "ffnet46ns_ccc_mobile_pre_down",
        "resnet46ns",
        "CCC",
        mobile=True,
        pre_downsample=True,
        input_hw=(1024, 2048),
        weight_file="ffnet46NS/ffnet46NS_CCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=76.7),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet122NS_CBB_mobile",))
def ffnet122ns_cbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 122NS_CBB_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet122ns_cbb_mobile",
        "resnet122ns",
        "CBB",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet122NS/ffnet122NS_CBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.3),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet74NS_CBB_mobile",))
def ffnet74ns_cbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 74NS_CBB_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet74ns_cbb_mobile",
        "resnet74ns",
        "CBB",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet74NS/ffnet74NS_CBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=78.3),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet46NS_CBB_mobile",))
def ffnet46ns_cbb_mobile(**kwargs: Any) -> FFNet:
    """FFNet 46NS_CBB_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet46ns_cbb_mobile",
        "resnet46ns",
        "CBB",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet46NS/ffnet46NS_CBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=77.5),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet122NS_CCC_mobile",))
def ffnet122ns_ccc_mobile(**kwargs: Any) -> FFNet:
    """FFNet 122NS_CCC_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet122ns_ccc_mobile",
        "resnet122ns",
        "CCC",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet122NS/ffnet122NS_CCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.2),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet74NS_CCC_mobile",))
def ffnet74ns_ccc_mobile(**kwargs: Any) -> FFNet:
    """FFNet 74NS_CCC_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet74ns_ccc_mobile",
        "resnet74ns",
        "CCC",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet74NS/ffnet74NS_CCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=77.8),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet46NS_CCC_mobile",))
def ffnet46ns_ccc_mobile(**kwargs: Any) -> FFNet:
    """FFNet 46NS_CCC_mobile: Cityscapes segmentation (nearest upsampling)."""
    return _ffnet(
        "ffnet46ns_ccc_mobile",
        "resnet46ns",
        "CCC",
        mobile=True,
        input_hw=(512, 1024),
        weight_file="ffnet46NS/ffnet46NS_CCC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=76.7),
        **kwargs,
    )


@register_model(aliases=("classification_ffnet122NS_CBX_mobile",))
def ffnet122ns_cbx_mobile(**kwargs: Any) -> FFNet:
    """FFNet 122NS_CBX_mobile: ImageNet classifier (nearest upsampling)."""
    return _ffnet(
        "ffnet122ns_cbx_mobile",
        "resnet122ns",
        "CBX",
        mobile=True,
        dropout_rate=0.2,
        input_hw=(224, 224),
        weight_file="ffnet122NS/ffnet122NS_CBX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet74NS_CBX_mobile",))
def ffnet74ns_cbx_mobile(**kwargs: Any) -> FFNet:
    """FFNet 74NS_CBX_mobile: ImageNet classifier (nearest upsampling)."""
    return _ffnet(
        "ffnet74ns_cbx_mobile",
        "resnet74ns",
        "CBX",
        mobile=True,
        dropout_rate=0.2,
        input_hw=(224, 224),
        weight_file="ffnet74NS/ffnet74NS_CBX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet46NS_CBX_mobile",))
def ffnet46ns_cbx_mobile(**kwargs: Any) -> FFNet:
    """FFNet 46NS_CBX_mobile: ImageNet classifier (nearest upsampling)."""
    return _ffnet(
        "ffnet46ns_cbx_mobile",
        "resnet46ns",
        "CBX",
        mobile=True,
        dropout_rate=0.2,
        input_hw=(224, 224),
        weight_file="ffnet46NS/ffnet46NS_CBX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet150_AAA", "segmentation_ffnet150_AAA_train"))
def ffnet150_aaa(**kwargs: Any) -> FFNet:
    """FFNet 150_AAA: Cityscapes segmentation."""
    return _ffnet(
        "ffnet150_aaa",
        "resnet150",
        "AAA",
        input_hw=(1024, 2048),
        weight_file="ffnet150/ffnet150_AAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=84.4, gpu_fp32_ms=152, gpu_fp16_ms=81),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet134_AAA",))
def ffnet134_aaa(**kwargs: Any) -> FFNet:
    """FFNet 134_AAA: Cityscapes segmentation."""
    return _ffnet(
        "ffnet134_aaa",
        "resnet134",
        "AAA",
        input_hw=(1024, 2048),
        weight_file="ffnet134/ffnet134_AAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=84.1, gpu_fp32_ms=135, gpu_fp16_ms=70),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet101_AAA",))
def ffnet101_aaa(**kwargs: Any) -> FFNet:
    """FFNet 101_AAA: Cityscapes segmentation."""
    return _ffnet(
        "ffnet101_aaa",
        "resnet101",
        "AAA",
        input_hw=(1024, 2048),
        weight_file="ffnet101/ffnet101_AAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=82.1, gpu_fp32_ms=119, gpu_fp16_ms=59),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet86_AAA",))
def ffnet86_aaa(**kwargs: Any) -> FFNet:
    """FFNet 86_AAA: Cityscapes segmentation."""
    return _ffnet(
        "ffnet86_aaa",
        "resnet86",
        "AAA",
        input_hw=(1024, 2048),
        weight_file="ffnet86/ffnet86_AAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=83.2, gpu_fp32_ms=105, gpu_fp16_ms=55),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet56_AAA",))
def ffnet56_aaa(**kwargs: Any) -> FFNet:
    """FFNet 56_AAA: Cityscapes segmentation."""
    return _ffnet(
        "ffnet56_aaa",
        "resnet56",
        "AAA",
        input_hw=(1024, 2048),
        weight_file="ffnet56/ffnet56_AAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=82.5, gpu_fp32_ms=82, gpu_fp16_ms=42),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet50_AAA",))
def ffnet50_aaa(**kwargs: Any) -> FFNet:
    """FFNet 50_AAA: Cityscapes segmentation."""
    return _ffnet(
        "ffnet50_aaa",
        "resnet50",
        "AAA",
        input_hw=(1024, 2048),
        weight_file="ffnet50/ffnet50_AAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.6, gpu_fp32_ms=88, gpu_fp16_ms=45),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet34_AAA",))
def ffnet34_aaa(**kwargs: Any) -> FFNet:
    """FFNet 34_AAA: Cityscapes segmentation."""
    return _ffnet(
        "ffnet34_aaa",
        "resnet34",
        "AAA",
        input_hw=(1024, 2048),
        weight_file="ffnet34/ffnet34_AAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.4, gpu_fp32_ms=67, gpu_fp16_ms=34),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet150_ABB",))
def ffnet150_abb(**kwargs: Any) -> FFNet:
    """FFNet 150_ABB: Cityscapes segmentation."""
    return _ffnet(
        "ffnet150_abb",
        "resnet150",
        "ABB",
        input_hw=(1024, 2048),
        weight_file="ffnet150/ffnet150_ABB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=83.7, gpu_fp32_ms=125, gpu_fp16_ms=71),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet86_ABB",))
def ffnet86_abb(**kwargs: Any) -> FFNet:
    """FFNet 86_ABB: Cityscapes segmentation."""
    return _ffnet(
        "ffnet86_abb",
        "resnet86",
        "ABB",
        input_hw=(1024, 2048),
        weight_file="ffnet86/ffnet86_ABB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=83.5, gpu_fp32_ms=78, gpu_fp16_ms=45),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet56_ABB",))
def ffnet56_abb(**kwargs: Any) -> FFNet:
    """FFNet 56_ABB: Cityscapes segmentation."""
    return _ffnet(
        "ffnet56_abb",
        "resnet56",
        "ABB",
        input_hw=(1024, 2048),
        weight_file="ffnet56/ffnet56_ABB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=82.1, gpu_fp32_ms=56, gpu_fp16_ms=32),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet34_ABB",))
def ffnet34_abb(**kwargs: Any) -> FFNet:
    """FFNet 34_ABB: Cityscapes segmentation."""
    return _ffnet(
        "ffnet34_abb",
        "resnet34",
        "ABB",
        input_hw=(1024, 2048),
        weight_file="ffnet34/ffnet34_ABB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.3, gpu_fp32_ms=41, gpu_fp16_ms=25),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet150S_BBB",))
def ffnet150s_bbb(**kwargs: Any) -> FFNet:
    """FFNet 150S_BBB: Cityscapes segmentation."""
    return _ffnet(
        "ffnet150s_bbb",
        "resnet150s",
        "BBB",
        input_hw=(1024, 2048),
        weight_file="ffnet150S/ffnet150S_BBB_gpu_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=84.1, gpu_fp32_ms=104, gpu_fp16_ms=66),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet86S_BBB", "segmentation_ffnet86S_BBB_train"))
def ffnet86s_bbb(**kwargs: Any) -> FFNet:
    """FFNet 86S_BBB: Cityscapes segmentation."""
    return _ffnet(
        "ffnet86s_bbb",
        "resnet86s",
        "BBB",
        input_hw=(1024, 2048),
        weight_file="ffnet86S/ffnet86S_BBB_gpu_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=82.6, gpu_fp32_ms=67, gpu_fp16_ms=43),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet122N_CBB", "segmentation_ffnet122N_CBB_train"))
def ffnet122n_cbb(**kwargs: Any) -> FFNet:
    """FFNet 122N_CBB: Cityscapes segmentation."""
    return _ffnet(
        "ffnet122n_cbb",
        "resnet122n",
        "CBB",
        input_hw=(1024, 2048),
        weight_file="ffnet122N/ffnet122N_CBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=83.7, gpu_fp32_ms=58, gpu_fp16_ms=44),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet74N_CBB",))
def ffnet74n_cbb(**kwargs: Any) -> FFNet:
    """FFNet 74N_CBB: Cityscapes segmentation."""
    return _ffnet(
        "ffnet74n_cbb",
        "resnet74n",
        "CBB",
        input_hw=(1024, 2048),
        weight_file="ffnet74N/ffnet74N_CBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=83.0, gpu_fp32_ms=42, gpu_fp16_ms=32),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet46N_CBB",))
def ffnet46n_cbb(**kwargs: Any) -> FFNet:
    """FFNet 46N_CBB: Cityscapes segmentation."""
    return _ffnet(
        "ffnet46n_cbb",
        "resnet46n",
        "CBB",
        input_hw=(1024, 2048),
        weight_file="ffnet46N/ffnet46N_CBB_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.9, gpu_fp32_ms=34, gpu_fp16_ms=27),
        **kwargs,
    )


@register_model(aliases=("classification_ffnet122N_CBX",))
def ffnet122n_cbx(**kwargs: Any) -> FFNet:
    """FFNet 122N_CBX: ImageNet classifier."""
    return _ffnet(
        "ffnet122n_cbx",
        "resnet122n",
        "CBX",
        dropout_rate=0.2,
        input_hw=(224, 224),
        weight_file="ffnet122N/ffnet122N_CBX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet74N_CBX",))
def ffnet74n_cbx(**kwargs: Any) -> FFNet:
    """FFNet 74N_CBX: ImageNet classifier."""
    return _ffnet(
        "ffnet74n_cbx",
        "resnet74n",
        "CBX",
        dropout_rate=0.2,
        input_hw=(224, 224),
        weight_file="ffnet74N/ffnet74N_CBX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet46N_CBX",))
def ffnet46n_cbx(**kwargs: Any) -> FFNet:
    """FFNet 46N_CBX: ImageNet classifier."""
    return _ffnet(
        "ffnet46n_cbx",
        "resnet46n",
        "CBX",
        dropout_rate=0.2,
        input_hw=(224, 224),
        weight_file="ffnet46N/ffnet46N_CBX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet150_dAAA",))
def ffnet150_daaa(**kwargs: Any) -> FFNet:
    """FFNet 150_dAAA: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet150_daaa",
        "resnet150",
        "AAA",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet150/ffnet150_dAAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=82.3, gpu_fp32_ms=41, gpu_fp16_ms=37),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet134_dAAA",))
def ffnet134_daaa(**kwargs: Any) -> FFNet:
    """FFNet 134_dAAA: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet134_daaa",
        "resnet134",
        "AAA",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet134/ffnet134_dAAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=82.0, gpu_fp32_ms=38, gpu_fp16_ms=35),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet101_dAAA",))
def ffnet101_daaa(**kwargs: Any) -> FFNet:
    """FFNet 101_dAAA: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet101_daaa",
        "resnet101",
        "AAA",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet101/ffnet101_dAAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.4, gpu_fp32_ms=36, gpu_fp16_ms=29),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet86_dAAA",))
def ffnet86_daaa(**kwargs: Any) -> FFNet:
    """FFNet 86_dAAA: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet86_daaa",
        "resnet86",
        "AAA",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet86/ffnet86_dAAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.4, gpu_fp32_ms=30, gpu_fp16_ms=28),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet56_dAAA",))
def ffnet56_daaa(**kwargs: Any) -> FFNet:
    """FFNet 56_dAAA: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet56_daaa",
        "resnet56",
        "AAA",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet56/ffnet56_dAAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=80.7, gpu_fp32_ms=25, gpu_fp16_ms=22),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet50_dAAA",))
def ffnet50_daaa(**kwargs: Any) -> FFNet:
    """FFNet 50_dAAA: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet50_daaa",
        "resnet50",
        "AAA",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet50/ffnet50_dAAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.4, gpu_fp32_ms=27, gpu_fp16_ms=20),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet34_dAAA",))
def ffnet34_daaa(**kwargs: Any) -> FFNet:
    """FFNet 34_dAAA: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet34_daaa",
        "resnet34",
        "AAA",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet34/ffnet34_dAAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.1, gpu_fp32_ms=21, gpu_fp16_ms=18),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet18_dAAA",))
def ffnet18_daaa(**kwargs: Any) -> FFNet:
    """FFNet 18_dAAA: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet18_daaa",
        "resnet18",
        "AAA",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet18/ffnet18_dAAA_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=76.5, gpu_fp32_ms=19, gpu_fp16_ms=14),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet150_dAAC", "segmentation_ffnet150_dAAC_train"))
def ffnet150_daac(**kwargs: Any) -> FFNet:
    """FFNet 150_dAAC: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet150_daac",
        "resnet150",
        "AAC",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet150/ffnet150_dAAC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.9, gpu_fp32_ms=37, gpu_fp16_ms=33),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet86_dAAC",))
def ffnet86_daac(**kwargs: Any) -> FFNet:
    """FFNet 86_dAAC: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet86_daac",
        "resnet86",
        "AAC",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet86/ffnet86_dAAC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.1, gpu_fp32_ms=26, gpu_fp16_ms=26),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet34_dAAC",))
def ffnet34_daac(**kwargs: Any) -> FFNet:
    """FFNet 34_dAAC: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet34_daac",
        "resnet34",
        "AAC",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet34/ffnet34_dAAC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=79.1, gpu_fp32_ms=17, gpu_fp16_ms=16),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet18_dAAC",))
def ffnet18_daac(**kwargs: Any) -> FFNet:
    """FFNet 18_dAAC: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet18_daac",
        "resnet18",
        "AAC",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet18/ffnet18_dAAC_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=76.4, gpu_fp32_ms=15, gpu_fp16_ms=12),
        **kwargs,
    )


@register_model(aliases=("classification_ffnet150_AAX",))
def ffnet150_aax(**kwargs: Any) -> FFNet:
    """FFNet 150_AAX: ImageNet classifier."""
    return _ffnet(
        "ffnet150_aax",
        "resnet150",
        "AAX",
        input_hw=(224, 224),
        weight_file="ffnet150/ffnet150_AAX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet134_AAX",))
def ffnet134_aax(**kwargs: Any) -> FFNet:
    """FFNet 134_AAX: ImageNet classifier."""
    return _ffnet(
        "ffnet134_aax",
        "resnet134",
        "AAX",
        input_hw=(224, 224),
        weight_file="ffnet134/ffnet134_AAX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet101_AAX",))
def ffnet101_aax(**kwargs: Any) -> FFNet:
    """FFNet 101_AAX: ImageNet classifier."""
    return _ffnet(
        "ffnet101_aax",
        "resnet101",
        "AAX",
        input_hw=(224, 224),
        weight_file="ffnet101/ffnet101_AAX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet86_AAX",))
def ffnet86_aax(**kwargs: Any) -> FFNet:
    """FFNet 86_AAX: ImageNet classifier."""
    return _ffnet(
        "ffnet86_aax",
        "resnet86",
        "AAX",
        input_hw=(224, 224),
        weight_file="ffnet86/ffnet86_AAX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet56_AAX",))
def ffnet56_aax(**kwargs: Any) -> FFNet:
    """FFNet 56_AAX: ImageNet classifier."""
    return _ffnet(
        "ffnet56_aax",
        "resnet56",
        "AAX",
        input_hw=(224, 224),
        weight_file="ffnet56/ffnet56_AAX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet50_AAX",))
def ffnet50_aax(**kwargs: Any) -> FFNet:
    """FFNet 50_AAX: ImageNet classifier."""
    return _ffnet(
        "ffnet50_aax",
        "resnet50",
        "AAX",
        input_hw=(224, 224),
        weight_file="ffnet50/ffnet50_AAX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet34_AAX",))
def ffnet34_aax(**kwargs: Any) -> FFNet:
    """FFNet 34_AAX: ImageNet classifier."""
    return _ffnet(
        "ffnet34_aax",
        "resnet34",
        "AAX",
        input_hw=(224, 224),
        weight_file="ffnet34/ffnet34_AAX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet18_AAX",))
def ffnet18_aax(**kwargs: Any) -> FFNet:
    """FFNet 18_AAX: ImageNet classifier."""
    return _ffnet(
        "ffnet18_aax",
        "resnet18",
        "AAX",
        input_hw=(224, 224),
        weight_file="ffnet18/ffnet18_AAX_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet150S_dBBB",))
def ffnet150s_dbbb(**kwargs: Any) -> FFNet:
    """FFNet 150S_dBBB: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet150s_dbbb",
        "resnet150s",
        "BBB",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet150S/ffnet150S_dBBB_gpu_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.0, gpu_fp32_ms=31, gpu_fp16_ms=34),
        **kwargs,
    )


@register_model(aliases=("segmentation_ffnet86S_dBBB", "segmentation_ffnet86S_dBBB_train"))
def ffnet86s_dbbb(**kwargs: Any) -> FFNet:
    """FFNet 86S_dBBB: Cityscapes segmentation (strided first stage)."""
    return _ffnet(
        "ffnet86s_dbbb",
        "resnet86s",
        "BBB",
        first_stage_stride=2,
        input_hw=(1024, 2048),
        weight_file="ffnet86S/ffnet86S_dBBB_gpu_cityscapes_state_dict_quarts.pth",
        published=dict(cityscapes_val_miou=81.1, gpu_fp32_ms=23, gpu_fp16_ms=26),
        **kwargs,
    )


@register_model(aliases=("classification_ffnet150S_BBX",))
def ffnet150s_bbx(**kwargs: Any) -> FFNet:
    """FFNet 150S_BBX: ImageNet classifier."""
    return _ffnet(
        "ffnet150s_bbx",
        "resnet150s",
        "BBX",
        input_hw=(224, 224),
        weight_file="ffnet150S/ffnet150S_BBX_gpu_imagenet_state_dict_quarts.pth",
        **kwargs,
    )


@register_model(aliases=("classification_ffnet86S_BBX",))
def ffnet86s_bbx(**kwargs: Any) -> FFNet:
    """FFNet 86S_BBX: ImageNet classifier."""
    return _ffnet(
        "ffnet86s_bbx",
        "resnet86s",
        "BBX",
        input_hw=(224, 224),
        weight_file="ffnet86S/ffnet86S_BBX_gpu_imagenet_state_dict_quarts.pth",
        **kwargs,
    )
